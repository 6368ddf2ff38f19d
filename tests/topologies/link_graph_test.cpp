#include <doctest/doctest.h>

#include "topologies/link_graph.hpp"

using namespace hpsim::topologies;

namespace {
ClusterSpec a100(std::int64_t nodes) {
  ClusterSpec c = load_cluster("dgx-a100-80gb");
  c.nodes = nodes;
  return c;
}

/// The link ids of a route that ECMP does not split (every share 1).
std::vector<std::int64_t> single_path(const std::vector<RouteHop>& hops) {
  std::vector<std::int64_t> links;
  for (const RouteHop& h : hops) {
    CHECK(h.fraction == 1.0);
    links.push_back(h.link);
  }
  return links;
}

std::vector<DeviceKind> kinds_along(const LinkGraph& g, const std::vector<RouteHop>& hops) {
  const std::vector<std::int64_t> route = single_path(hops);
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

const Link& link_of(const LinkGraph& g, const RouteHop& h) { return g.links()[static_cast<std::size_t>(h.link)]; }
}  // namespace

TEST_CASE("link graph counts: vertices and links of a 64-node DGX A100 cluster") {
  const LinkGraph g(a100(64));  // nodes_per_leaf 20 -> 4 leaf groups, so spines (one per rail)
  // 512 GPUs + 64 NVSwitches + 512 NICs + 4 groups x 8 rails leaves + 8 rail spines
  CHECK(g.vertex_count() == 512 + 64 + 512 + 32 + 8);
  // pairs: GPU-NVSwitch 512, GPU-NIC 512, NIC-leaf 512, leaf-spine 32
  CHECK(g.links().size() == 2 * (512 + 512 + 512 + 32));
  CHECK(g.out_links(0).size() == 2);  // NVSwitch and its NIC
  CHECK(g.out_links(g.layout().spine_vertex(0, 0, 0)).size() == 4);  // the rail-0 leaves of the 4 groups
  CHECK(g.vertex_name(0) == "gpu 0 (node 0, local 0)");
  CHECK(g.vertex_name(g.layout().spine_vertex(0, 3, 0)) == "spine 0 (pod 0, rail 3)");
}

TEST_CASE("routes have the expected hops and vertex kinds") {
  using K = DeviceKind;
  const LinkGraph g(a100(64));
  CHECK(g.route(3, 3).empty());
  CHECK(kinds_along(g, g.route(0, 5)) == std::vector<K>{K::gpu, K::nvswitch, K::gpu});
  // node 0 -> node 1, both local 0, same leaf (nodes 0..19)
  CHECK(kinds_along(g, g.route(0, 8)) == std::vector<K>{K::gpu, K::nic, K::leaf, K::nic, K::gpu});
  // node 0 -> node 25 (leaf group 1): up through rail 0's spine
  CHECK(kinds_along(g, g.route(0, 25 * 8)) ==
        std::vector<K>{K::gpu, K::nic, K::leaf, K::spine, K::leaf, K::nic, K::gpu});
  // local 0 -> local 1 on another node: stays on rail 0, then NVLink from the GPU next to NIC 0 (PXN)
  CHECK(kinds_along(g, g.route(0, 9)) ==
        std::vector<K>{K::gpu, K::nic, K::leaf, K::nic, K::gpu, K::nvswitch, K::gpu});
  // forcing NIC 3 from local 0: NVLink to local 3 first
  const auto r = g.route(0, 8 + 3, 3);
  CHECK(kinds_along(g, r) == std::vector<K>{K::gpu, K::nvswitch, K::gpu, K::nic, K::leaf, K::nic, K::gpu});
  CHECK(link_of(g, r.back()).to == 11);
  CHECK_THROWS_AS((void)g.route(0, 64 * 8), std::out_of_range);
}

TEST_CASE("link rates: NVLink per GPU, NIC rate, leaf uplinks divided by the oversubscription") {
  ClusterSpec c = a100(64);
  c.fabric_oversubscription = 2;
  const LinkGraph g(c);
  const auto r = g.route(0, 25 * 8);
  CHECK(link_of(g, r[0]).bandwidth.value() == doctest::Approx(25e9));
  const Link& up = link_of(g, r[2]);
  CHECK(g.kind(up.to) == DeviceKind::spine);
  CHECK(up.bandwidth.value() == doctest::Approx(20 * 25e9 / 2));  // 20 nodes x 25 GB/s down, 1:2
  // the last group holds 4 nodes: its uplinks carry 4 NICs' worth
  const auto last = g.route(0, 63 * 8);
  CHECK(link_of(g, last[3]).bandwidth.value() == doctest::Approx(4 * 25e9 / 2));
  const auto intra = g.route(0, 1);
  CHECK(link_of(g, intra[0]).bandwidth.value() == doctest::Approx(300e9));
  CHECK(link_of(g, intra[0]).link_class == LinkClass::nvlink);
}

TEST_CASE("fewer NICs than GPUs: two GPUs share a NIC; PXN forwarding splits over both (ECMP)") {
  ClusterSpec c = a100(2);
  c.nics_per_node = 4;
  const LinkGraph g(c);
  CHECK(g.layout().nic_of(3) == 1);
  const auto r = g.route(3, 8 + 3);  // both next to NIC 1
  CHECK(r.size() == 4);
  CHECK(g.vertex_name(link_of(g, r[0]).to) == "nic 1 (node 0)");
  // local 0 -> NIC 1 of its node: over NVSwitch to local 2 or 3 (both on NIC 1), half each
  const auto pxn = g.route(0, 8 + 2, 1);
  int halves = 0;
  for (const RouteHop& h : pxn) halves += h.fraction == 0.5 ? 1 : 0;
  CHECK(halves == 4);  // NVSwitch -> GPU 2 / 3 and GPU 2 / 3 -> NIC 1
}

TEST_CASE("without rails every NIC of a node sits on the group's one leaf; pods meet at the cores") {
  using K = DeviceKind;
  ClusterSpec c = load_cluster("llama3-h100-roce");
  c.nodes = 8;
  c.fabric.nodes_per_pod = 4;  // racks of 2 nodes, pods of 2 racks, 2 pods
  const LinkGraph g(c);
  // 64 GPUs + 8 NVSwitches + 64 NICs + 4 ToRs + 2 spines (one per pod) + 1 core
  CHECK(g.vertex_count() == 64 + 8 + 64 + 4 + 2 + 1);
  // local 0 -> local 3 of the rack's other node: straight onto the destination's own NIC
  CHECK(kinds_along(g, g.route(0, 8 + 3)) == std::vector<K>{K::gpu, K::nic, K::leaf, K::nic, K::gpu});
  const auto across = g.route(0, 4 * 8 + 5);
  CHECK(kinds_along(g, across) ==
        std::vector<K>{K::gpu, K::nic, K::leaf, K::spine, K::core, K::spine, K::leaf, K::nic, K::gpu});
  // ToR uplink: 2 nodes x 8 NICs x 50 GB/s, 1:1; spine uplink: 2 ToRs' worth at 1:7
  CHECK(link_of(g, across[2]).bandwidth.value() == doctest::Approx(16 * 50e9));
  CHECK(link_of(g, across[3]).bandwidth.value() == doctest::Approx(2 * 16 * 50e9 / 7));
  CHECK(g.vertex_name(link_of(g, across[3]).to) == "core 0");
}

TEST_CASE("ECMP: several spines and cores split a flow evenly over the equal-cost paths") {
  ClusterSpec c = load_cluster("llama3-h100-roce");
  c.nodes = 8;
  c.fabric.nodes_per_pod = 4;
  c.fabric.spines = 4;
  c.fabric.cores = 2;
  const LinkGraph g(c);
  const auto across = g.route(0, 4 * 8);
  // leaf -> 4 spines (1/4 each) -> 2 cores each (1/8 per link) -> 4 spines of the other pod (1/8) -> leaf (1/4)
  double up_leaf = 0, up_spine = 0, down_core = 0, down_spine = 0;
  std::size_t n_leaf = 0;
  for (const RouteHop& h : across) {
    const Link& l = link_of(g, h);
    const DeviceKind from = g.kind(l.from), to = g.kind(l.to);
    const auto is = [&](DeviceKind a, DeviceKind b) { return from == a && to == b; };
    const double expected = is(DeviceKind::leaf, DeviceKind::spine) || is(DeviceKind::spine, DeviceKind::leaf) ? 0.25
                            : is(DeviceKind::spine, DeviceKind::core) || is(DeviceKind::core, DeviceKind::spine)
                                ? 0.125
                                : 1.0;
    CHECK(h.fraction == expected);
    if (is(DeviceKind::leaf, DeviceKind::spine)) up_leaf += h.fraction, ++n_leaf;
    if (is(DeviceKind::spine, DeviceKind::core)) up_spine += h.fraction;
    if (is(DeviceKind::core, DeviceKind::spine)) down_core += h.fraction;
    if (is(DeviceKind::spine, DeviceKind::leaf)) down_spine += h.fraction;
  }
  CHECK(n_leaf == 4);
  CHECK(across.size() == 1 + 1 + 4 + 8 + 8 + 4 + 1 + 1);
  for (const double total : {up_leaf, up_spine, down_core, down_spine}) CHECK(total == doctest::Approx(1.0));
  // Each of the 4 leaf uplinks carries a quarter of the ToR's uplink capacity.
  CHECK(link_of(g, across[2]).bandwidth.value() == doctest::Approx(16 * 50e9 / 4));
}
