#include <doctest/doctest.h>

#include "topologies/link_graph.hpp"

using namespace hpsim::topologies;

namespace {
ClusterSpec a100(std::int64_t nodes) {
  ClusterSpec c = load_cluster("dgx-a100-80gb");
  c.nodes = nodes;
  return c;
}

std::vector<DeviceKind> kinds_along(const LinkGraph& g, const std::vector<std::int64_t>& route) {
  std::vector<DeviceKind> kinds;
  if (route.empty()) return kinds;
  kinds.push_back(g.kind(g.links()[static_cast<std::size_t>(route.front())].from));
  for (std::size_t i = 0; i < route.size(); ++i) {
    const Link& l = g.links()[static_cast<std::size_t>(route[i])];
    if (i > 0) CHECK(g.links()[static_cast<std::size_t>(route[i - 1])].to == l.from);  // contiguous path
    kinds.push_back(g.kind(l.to));
  }
  return kinds;
}
}  // namespace

TEST_CASE("link graph counts: vertices and links of a 64-node DGX A100 cluster") {
  const LinkGraph g(a100(64));  // nodes_per_leaf 20 -> 4 leaf groups, so a spine
  // 512 GPUs + 64 NVSwitches + 512 NICs + 4 groups x 8 rails leaves + 1 spine
  CHECK(g.vertex_count() == 512 + 64 + 512 + 32 + 1);
  // pairs: GPU-NVSwitch 512, GPU-NIC 512, NIC-leaf 512, leaf-spine 32
  CHECK(g.links().size() == 2 * (512 + 512 + 512 + 32));
  CHECK(g.out_links(0).size() == 2);  // NVSwitch and its NIC
  CHECK(g.out_links(g.layout().spine_vertex).size() == 32);
  CHECK(g.vertex_name(0) == "gpu 0 (node 0, local 0)");
}

TEST_CASE("routes have the expected hops and vertex kinds") {
  using K = DeviceKind;
  const LinkGraph g(a100(64));
  CHECK(g.route(3, 3).empty());
  CHECK(kinds_along(g, g.route(0, 5)) == std::vector<K>{K::gpu, K::nvswitch, K::gpu});
  // node 0 -> node 1, both local 0, same leaf (nodes 0..19)
  CHECK(kinds_along(g, g.route(0, 8)) == std::vector<K>{K::gpu, K::nic, K::leaf, K::nic, K::gpu});
  // node 0 -> node 25 (leaf group 1): up through the spine on rail 0
  CHECK(kinds_along(g, g.route(0, 25 * 8)) ==
        std::vector<K>{K::gpu, K::nic, K::leaf, K::spine, K::leaf, K::nic, K::gpu});
  // local 0 -> local 1 on another node: stays on rail 0, then NVLink from the GPU next to NIC 0 (PXN)
  CHECK(kinds_along(g, g.route(0, 9)) ==
        std::vector<K>{K::gpu, K::nic, K::leaf, K::nic, K::gpu, K::nvswitch, K::gpu});
  // forcing NIC 3 from local 0: NVLink to local 3 first
  const auto r = g.route(0, 8 + 3, 3);
  CHECK(kinds_along(g, r) == std::vector<K>{K::gpu, K::nvswitch, K::gpu, K::nic, K::leaf, K::nic, K::gpu});
  CHECK(g.links()[static_cast<std::size_t>(r.back())].to == 11);
  CHECK_THROWS_AS((void)g.route(0, 64 * 8), std::out_of_range);
}

TEST_CASE("link rates: NVLink per GPU, NIC rate, leaf uplinks divided by the oversubscription") {
  ClusterSpec c = a100(64);
  c.fabric_oversubscription = 2;
  const LinkGraph g(c);
  const auto r = g.route(0, 25 * 8);
  CHECK(g.links()[static_cast<std::size_t>(r[0])].bandwidth.value() == doctest::Approx(25e9));
  const Link& up = g.links()[static_cast<std::size_t>(r[2])];
  CHECK(g.kind(up.to) == DeviceKind::spine);
  CHECK(up.bandwidth.value() == doctest::Approx(20 * 25e9 / 2));  // 20 nodes x 25 GB/s down, 1:2
  // the last group holds 4 nodes: its uplinks carry 4 NICs' worth
  const auto last = g.route(0, 63 * 8);
  CHECK(g.links()[static_cast<std::size_t>(last[3])].bandwidth.value() == doctest::Approx(4 * 25e9 / 2));
  const auto intra = g.route(0, 1);
  CHECK(g.links()[static_cast<std::size_t>(intra[0])].bandwidth.value() == doctest::Approx(300e9));
  CHECK(g.links()[static_cast<std::size_t>(intra[0])].link_class == LinkClass::nvlink);
}

TEST_CASE("fewer NICs than GPUs: two GPUs share a NIC") {
  ClusterSpec c = a100(2);
  c.nics_per_node = 4;
  const LinkGraph g(c);
  CHECK(g.layout().nic_of(3) == 1);
  const auto r = g.route(3, 8 + 3);  // both next to NIC 1
  CHECK(r.size() == 4);
  CHECK(g.vertex_name(g.links()[static_cast<std::size_t>(r[0])].to) == "nic 1 (node 0)");
}
