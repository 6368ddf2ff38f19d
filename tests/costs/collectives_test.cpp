#include <doctest/doctest.h>

#include <numeric>

#include "core/error.hpp"
#include "costs/collectives.hpp"

using namespace hpsim;
using namespace hpsim::topologies;
using namespace hpsim::costs;

namespace {
using Groups = std::vector<std::vector<std::int64_t>>;
constexpr double kGB = 1e9;
const core::Bytes kS = core::gigabytes(1);  // large enough that bandwidth dominates

ClusterSpec cluster(const std::string& preset, std::int64_t nodes) {
  ClusterSpec c = load_cluster(preset);
  c.nodes = nodes;
  return c;
}

CollectiveModel model_of(const CollectiveCoster& coster, Collective op, const Groups& groups, Algorithm a) {
  for (const auto& m : coster.models(op, groups))
    if (m.algorithm == a) return m;
  FAIL("algorithm missing");
  return {};
}

/// nccl-tests all-reduce bus bandwidth of a model, GB/s: S·2(n−1)/n / (time − latency).
double allreduce_busbw(const CollectiveModel& m, double n) { return m.bandwidth.value() * 2 * (n - 1) / n / kGB; }

std::vector<std::int64_t> iota(std::int64_t first, std::int64_t count, std::int64_t stride = 1) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 0; i < count; ++i) v.push_back(first + i * stride);
  return v;
}
}  // namespace

TEST_CASE("ring all-reduce inside one node: 2(n-1)/n·S/B + 2(n-1)·alpha") {
  const CollectiveCoster coster(cluster("dgx-a100-80gb", 1));
  const double B = 300e9 * 0.767;  // NVLink per direction x measured efficiency = 230.1 GB/s
  const double alpha = 2e-6;       // preset intra_node_latency_us
  for (const std::int64_t n : {2, 4, 8}) {
    const auto group = iota(0, n);
    const double expected = 2.0 * (n - 1) / n * 1e9 / B + 2.0 * (n - 1) * alpha;
    CHECK(coster.time(Collective::all_reduce, kS, group, Algorithm::ring).value() == doctest::Approx(expected));
    const auto models = coster.models(Collective::all_reduce, Groups{group});
    REQUIRE(models.size() == 1);  // one node: no tree, no hierarchical
    CHECK(models[0].latency.value() == doctest::Approx(2.0 * (n - 1) * alpha));
  }
}

TEST_CASE("DGX A100, 8 GPUs: all-reduce busbw about 230 GB/s (nccl-tests#149)") {
  const CollectiveCoster coster(cluster("dgx-a100-80gb", 1));
  const auto m = model_of(coster, Collective::all_reduce, Groups{iota(0, 8)}, Algorithm::ring);
  CHECK(allreduce_busbw(m, 8) == doctest::Approx(230).epsilon(0.01));
}

TEST_CASE("NVLS all-reduce inside a DGX H100 above 4 GPUs: S / (450 GB/s x 0.61) + 25 us, busbw about 480") {
  const CollectiveCoster coster(cluster("dgx-h100", 2));
  const auto m = model_of(coster, Collective::all_reduce, Groups{iota(0, 8)}, Algorithm::nvls);
  CHECK(m.latency.value() == doctest::Approx(25e-6));
  CHECK(m.bandwidth.value() == doctest::Approx(450e9 * 0.61));
  CHECK(allreduce_busbw(m, 8) == doctest::Approx(480).epsilon(0.01));  // dgxc-benchmarking nccl: 480 at 16 GB
  // The ring is 1e9 * 1.75 / (450e9 * 0.822) + 14 * 2 us = 4.759 ms; NVLS 1e9 / 274.5e9 + 25 us = 3.668 ms.
  CHECK(coster.time(Collective::all_reduce, kS, iota(0, 8)).value() == doctest::Approx(1e9 / (450e9 * 0.61) + 25e-6));
  // 5 GPUs take it too; 4 GPUs, a group over two nodes, other collectives and an A100 node do not.
  CHECK(coster.models(Collective::all_reduce, Groups{iota(0, 5)}).size() == 2);
  CHECK(coster.models(Collective::all_reduce, Groups{iota(0, 4)}).size() == 1);
  for (const auto& model : coster.models(Collective::all_reduce, Groups{iota(4, 8)}))
    CHECK(model.algorithm != Algorithm::nvls);
  CHECK(coster.models(Collective::all_gather, Groups{iota(0, 8)}).size() == 1);
  CHECK(CollectiveCoster(cluster("dgx-a100-80gb", 1)).models(Collective::all_reduce, Groups{iota(0, 8)}).size() == 1);
  CHECK(to_string(Algorithm::nvls) == "nvls");
}

TEST_CASE("8 ranks on 8 nodes, one per node on the same rail: the NIC rate sets busbw") {
  // Each rank sends 2·7/8·S over its NIC: busbw = NIC rate x efficiency = 25·0.96 = 24 GB/s (HDR), 50·0.94 = 47 (NDR).
  const auto group = iota(3, 8, 8);  // local index 3 of nodes 0..7
  const CollectiveCoster hdr(cluster("dgx-a100-80gb", 8));
  CHECK(allreduce_busbw(model_of(hdr, Collective::all_reduce, Groups{group}, Algorithm::ring), 8) ==
        doctest::Approx(24.0));
  const CollectiveCoster ndr(cluster("dgx-h100", 8));
  const auto m = model_of(ndr, Collective::all_reduce, Groups{group}, Algorithm::ring);
  CHECK(allreduce_busbw(m, 8) == doctest::Approx(47.0));
  CHECK(m.latency.value() == doctest::Approx(14 * 5e-6));  // 2(n-1) network steps
  // one member per node: no hierarchical variant, tree applies
  CHECK(ndr.models(Collective::all_reduce, Groups{group}).size() == 2);
}

TEST_CASE("2 full DGX A100 nodes: ring uses all 8 NICs, busbw about 8 x 24 = 192 GB/s (nccl#812)") {
  const CollectiveCoster coster(cluster("dgx-a100-80gb", 2));
  const Groups g{iota(0, 16)};
  const auto ring = model_of(coster, Collective::all_reduce, g, Algorithm::ring);
  CHECK(allreduce_busbw(ring, 16) == doctest::Approx(192.0));
  // Tree: each node sends S across its 8 NICs, so busbw exceeds the NIC limit; NVLink bounds it
  // (per GPU 1.75·S over NVLink: algbw 230.1/1.75, busbw x 2·15/16 = 246.6 GB/s).
  const auto tree = model_of(coster, Collective::all_reduce, g, Algorithm::tree);
  CHECK(allreduce_busbw(tree, 16) == doctest::Approx(230.1 / 1.75 * 2 * 15 / 16));
  CHECK(tree.latency.value() == doctest::Approx(2 * 1 * 45e-6 + 2 * 7 * 2e-6));  // a 45 us tree level each way
  // Hierarchical: RS and AG over NVLink (7/8·S each at 230.1) + ring of 2 over each NIC (S/8 at 24).
  const auto hier = model_of(coster, Collective::all_reduce, g, Algorithm::hierarchical);
  CHECK(1.0 / hier.bandwidth.value() == doctest::Approx(2 * 0.875 / 230.1e9 + 1.0 / 8 / 24e9));
  // Large messages: the fastest algorithm wins.
  const double best = std::min({ring.time(kS).value(), tree.time(kS).value(), hier.time(kS).value()});
  CHECK(coster.time(Collective::all_reduce, kS, g).value() == doctest::Approx(best));
}

TEST_CASE("tree all-reduce on DGX H100 SuperPODs: NVIDIA's NVLSTree scan from 32 to 8192 GPUs (GTC24 S62129)") {
  // Published busbw, read off the chart (REFERENCE-HOPPER 4b): 16 GB ~365-380 at every scale; 256 MB ~315 (32
  // GPUs) and ~225 (8192); 16 MB ~126 (32) and ~33 (8192). Hand check at 8192 GPUs (1024 nodes): latency 2 x 10
  // levels x 45 us + 2 x 7 x 2 us = 928 us; algbw ~186 GB/s, so 256 MB takes 1.376 + 0.928 ms: busbw 223.
  auto busbw = [](std::int64_t nodes, double bytes) {
    const CollectiveCoster coster(cluster("dgx-h100", nodes));
    const double n = static_cast<double>(nodes * 8);
    const double t = coster.time(Collective::all_reduce, core::Bytes(bytes), iota(0, nodes * 8)).value();
    return bytes / t * 2 * (n - 1) / n / kGB;
  };
  const double tolerance = 0.10;
  CHECK(busbw(4, 16e9) == doctest::Approx(372).epsilon(tolerance));
  CHECK(busbw(4, 256e6) == doctest::Approx(315).epsilon(tolerance));
  CHECK(busbw(1024, 16e9) == doctest::Approx(372).epsilon(tolerance));
  CHECK(busbw(1024, 256e6) == doctest::Approx(225).epsilon(tolerance));
  CHECK(busbw(1024, 16e6) == doctest::Approx(33).epsilon(tolerance));
  // 16 MB at 32 GPUs comes out at ~106 against ~126: the tree's intra-node chain (2 x 7 x 2 us) is NVLS there.
  CHECK(busbw(4, 16e6) == doctest::Approx(126).epsilon(0.20));
  // The tree's latency, not its bandwidth, is what drops the 256 MB busbw with scale.
  CHECK(busbw(1024, 256e6) < 0.8 * busbw(4, 256e6));
}

TEST_CASE("concurrent groups on 8 rails: independent on a non-blocking fabric, shared uplinks when oversubscribed") {
  // 8 DP groups: local index l of nodes 0..7.
  Groups rails;
  for (std::int64_t l = 0; l < 8; ++l) rails.push_back(iota(l, 8, 8));
  const CollectiveCoster flat(cluster("dgx-a100-80gb", 8));
  const double alone = flat.time(Collective::all_reduce, kS, rails[0], Algorithm::ring).value();
  CHECK(flat.time(Collective::all_reduce, kS, rails, Algorithm::ring).value() == doctest::Approx(alone));

  // Leaves of 4 nodes, 1:7: the ring crosses between leaf groups over uplinks of 4·25/7 GB/s per rail.
  ClusterSpec c = cluster("dgx-a100-80gb", 8);
  c.nodes_per_leaf = 4;
  c.fabric_oversubscription = 7;
  const CollectiveCoster over(c);
  const double squeezed = over.time(Collective::all_reduce, kS, rails, Algorithm::ring).value();
  CHECK(squeezed > 1.5 * alone);
  CHECK(allreduce_busbw(model_of(over, Collective::all_reduce, rails, Algorithm::ring), 8) ==
        doctest::Approx(4 * 25.0 / 7 * 0.96));
  // Two groups on the same rail, both crossing leaf groups, share those uplinks: twice as long.
  const Groups same_rail{{0, 32}, {8, 40}};  // local 0 of nodes (0,4) and (1,5)
  const auto one = over.models(Collective::all_reduce, Groups{same_rail[0]})[0];
  const auto two = over.models(Collective::all_reduce, same_rail)[0];
  CHECK(one.bandwidth.value() == doctest::Approx(2 * two.bandwidth.value()));
}

TEST_CASE("all-gather and reduce-scatter take half an all-reduce's bandwidth term") {
  const CollectiveCoster coster(cluster("dgx-h100", 4));
  for (const Groups& g : {Groups{iota(0, 8)}, Groups{iota(0, 32)}, Groups{iota(2, 4, 8)}}) {
    const auto ar = model_of(coster, Collective::all_reduce, g, Algorithm::ring);
    const auto ag = model_of(coster, Collective::all_gather, g, Algorithm::ring);
    const auto rs = model_of(coster, Collective::reduce_scatter, g, Algorithm::ring);
    CHECK(ag.bandwidth.value() == doctest::Approx(2 * ar.bandwidth.value()));
    CHECK(rs.time(kS).value() == doctest::Approx(ag.time(kS).value()));
    CHECK(ag.latency.value() == doctest::Approx(ar.latency.value() / 2));
    CHECK(coster.models(Collective::all_gather, g).size() == 1);  // ring only
  }
}

TEST_CASE("all-to-all across nodes is limited by the NICs") {
  // 16 ranks on 2 DGX A100 nodes: each rank sends S/16 to each of 15 peers; the 8 peers on the other node go
  // through its own NIC: 8·S/16 = S/2 per NIC at 24 GB/s. NVLink carries less (14/16·S at 230 GB/s).
  const CollectiveCoster coster(cluster("dgx-a100-80gb", 2));
  const double t = coster.time(Collective::all_to_all, kS, iota(0, 16)).value();
  CHECK(t == doctest::Approx(0.5e9 / 24e9 + 15 * 5e-6));
  // inside one node it is NVLink-bound: 7/8·S per GPU at 230.1 GB/s
  CHECK(coster.time(Collective::all_to_all, kS, iota(0, 8)).value() == doctest::Approx(0.875e9 / 230.1e9 + 7 * 2e-6));
}

TEST_CASE("send/recv inside a node and across nodes") {
  const CollectiveCoster coster(cluster("dgx-a100-80gb", 2));
  const std::vector<std::int64_t> inside{0, 5}, across{5, 13};
  CHECK(coster.time(Collective::send_recv, kS, inside).value() == doctest::Approx(1e9 / 230.1e9 + 2e-6));
  CHECK(coster.time(Collective::send_recv, kS, across).value() == doctest::Approx(1e9 / 24e9 + 5e-6));
  // 8 pipeline sends between the nodes at once use 8 NICs: no slowdown
  Groups pairs;
  for (std::int64_t l = 0; l < 8; ++l) pairs.push_back({l, 8 + l});
  CHECK(coster.time(Collective::send_recv, kS, pairs).value() == doctest::Approx(1e9 / 24e9 + 5e-6));
  CHECK_THROWS_AS((void)coster.models(Collective::send_recv, Groups{{0, 1, 2}}), std::invalid_argument);
}

TEST_CASE("broadcast is a pipelined chain: S per hop") {
  const CollectiveCoster coster(cluster("dgx-a100-80gb", 1));
  CHECK(coster.time(Collective::broadcast, kS, iota(0, 8)).value() == doctest::Approx(1e9 / 230.1e9 + 7 * 2e-6));
}

TEST_CASE("groups of one rank cost nothing") {
  const CollectiveCoster coster(cluster("dgx-h100", 2));
  for (const Collective op : {Collective::all_reduce, Collective::all_gather, Collective::all_to_all,
                              Collective::send_recv, Collective::broadcast}) {
    CHECK(coster.time(op, kS, std::vector<std::int64_t>{3}).value() == 0);
    CHECK(coster.time(op, kS, Groups{{1}, {2}, {9}}, Algorithm::tree).value() == 0);
  }
  CHECK(coster.time(Collective::all_reduce, kS, Groups{}).value() == 0);
}

TEST_CASE("naming an algorithm that does not apply is an InputError; bad ranks are rejected") {
  const CollectiveCoster coster(cluster("dgx-h100", 2));
  CHECK_THROWS_AS((void)coster.time(Collective::all_reduce, kS, iota(0, 8), Algorithm::tree), core::InputError);
  CHECK_THROWS_AS((void)coster.time(Collective::all_gather, kS, iota(0, 16), Algorithm::hierarchical),
                  core::InputError);
  CHECK_THROWS_AS((void)coster.models(Collective::all_reduce, Groups{{0, 16}}), std::out_of_range);
}

TEST_CASE("names") {
  CHECK(to_string(Collective::reduce_scatter) == "reduce_scatter");
  CHECK(to_string(Algorithm::hierarchical) == "hierarchical");
}

TEST_CASE("rail copies of DP groups (costed once) change nothing; a group sharing their rail does") {
  ClusterSpec c = cluster("dgx-h100", 8);
  c.nodes_per_leaf = 2;
  c.fabric_oversubscription = 4;
  const CollectiveCoster coster(c);
  // tp 4: DP groups hold locals {t, t+4} of each node; t = 0..3 are shifted copies on disjoint rails.
  Groups dp;
  for (std::int64_t t = 0; t < 4; ++t) {
    std::vector<std::int64_t> g;
    for (std::int64_t node = 0; node < 8; ++node) {
      g.push_back(node * 8 + t);
      g.push_back(node * 8 + t + 4);
    }
    dp.push_back(g);
  }
  for (const Collective op : {Collective::all_reduce, Collective::all_gather, Collective::all_to_all}) {
    const auto one = coster.models(op, Groups{dp[0]});
    const auto all = coster.models(op, dp);
    REQUIRE(one.size() == all.size());
    for (std::size_t i = 0; i < one.size(); ++i) {
      CHECK(one[i].bandwidth.value() == doctest::Approx(all[i].bandwidth.value()));
      CHECK(one[i].latency.value() == doctest::Approx(all[i].latency.value()));
    }
  }
  // A further group on rails 0 and 4 of the same nodes shares their links: slower.
  Groups crowded = dp;
  crowded.push_back({0 * 8 + 0, 1 * 8 + 4, 2 * 8 + 0, 3 * 8 + 4, 4 * 8 + 0, 5 * 8 + 4, 6 * 8 + 0, 7 * 8 + 4});
  CHECK(coster.time(Collective::all_reduce, kS, crowded, Algorithm::ring).value() >
        coster.time(Collective::all_reduce, kS, dp, Algorithm::ring).value());
}

TEST_CASE("groups inside nodes: copies on other nodes change nothing; each node's own arrangement counts") {
  const CollectiveCoster coster(cluster("dgx-h100", 16));
  const auto on_node = [](std::int64_t node, std::vector<std::int64_t> locals) {
    for (auto& l : locals) l += node * 8;
    return locals;
  };
  const auto same = [](const std::vector<CollectiveModel>& a, const std::vector<CollectiveModel>& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].bandwidth.value() == b[i].bandwidth.value());  // the same sums on the same links: bit for bit
      CHECK(a[i].latency.value() == b[i].latency.value());
    }
  };
  for (const Collective op : {Collective::all_reduce, Collective::all_gather, Collective::all_to_all}) {
    CAPTURE(to_string(op));
    // tp 8 on every node, and a ring of overlapping pairs on every node: as on one node alone.
    Groups tp, pairs;
    for (std::int64_t n = 0; n < 16; ++n) {
      tp.push_back(on_node(n, {0, 1, 2, 3, 4, 5, 6, 7}));
      for (std::int64_t i = 0; i < 4; ++i) pairs.push_back(on_node(n, {i, (i + 1) % 4}));
    }
    same(coster.models(op, tp), coster.models(op, Groups{tp[5]}));
    same(coster.models(op, pairs), coster.models(op, Groups(pairs.begin() + 8, pairs.begin() + 12)));
    // Nodes arranged differently: the slowest arrangement sets the bandwidth, whichever node holds it.
    // Node 2's second group shares GPU 1's links with its first.
    const Groups mixed = {on_node(0, {0, 1}), on_node(1, {0, 1}), on_node(2, {0, 1}), on_node(2, {1, 2}),
                          on_node(3, {6, 7})};
    const double crowded = coster.models(op, Groups{mixed[2], mixed[3]})[0].bandwidth.value();
    CHECK(coster.models(op, mixed)[0].bandwidth.value() == crowded);
    CHECK(crowded < coster.models(op, Groups{mixed[0]})[0].bandwidth.value());
  }
}
