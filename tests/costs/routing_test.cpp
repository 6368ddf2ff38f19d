/// The collective coster routes over the link graph: every route it takes is a shortest path (or an even ECMP split
/// over several) of the graph; groups that cross the same uplinks share them.
#include <doctest/doctest.h>

#include <map>

#include "costs/collectives.hpp"

using namespace hpsim;
using namespace hpsim::topologies;
using namespace hpsim::costs;

namespace {
using Groups = std::vector<std::vector<std::int64_t>>;
const core::Bytes kS = core::gigabytes(1);

/// Megatron's rank order: rank = t + tp·(d + dp·p).
Groups dp_groups(std::int64_t gpus, std::int64_t tp, std::int64_t pp) {
  const std::int64_t dp = gpus / (tp * pp);
  Groups out;
  for (std::int64_t p = 0; p < pp; ++p)
    for (std::int64_t t = 0; t < tp; ++t) {
      out.emplace_back();
      for (std::int64_t d = 0; d < dp; ++d) out.back().push_back(t + tp * (d + dp * p));
    }
  return out;
}
Groups tp_groups(std::int64_t gpus, std::int64_t tp) {
  Groups out;
  for (std::int64_t first = 0; first < gpus; first += tp) {
    out.emplace_back();
    for (std::int64_t t = 0; t < tp; ++t) out.back().push_back(first + t);
  }
  return out;
}
Groups pp_pairs(std::int64_t gpus, std::int64_t pp) {
  Groups out;
  const std::int64_t stride = gpus / pp;
  for (std::int64_t r = 0; r < stride; ++r) out.push_back({r, r + stride});
  return out;
}

/// Checks that `u` is a unit flow from its source to its destination over links of the graph, made of paths that
/// are shortest paths of the graph (through the NIC it names, and overall).
class RouteChecker {
 public:
  explicit RouteChecker(const LinkGraph& g) : g_(g) {}

  void check(const UsedRoute& u) {
    const LinkLayout& L = g_.layout();
    std::map<std::int64_t, double> net;  // inflow - outflow per vertex
    std::map<std::int64_t, std::vector<const RouteHop*>> out;
    for (const RouteHop& h : u.hops) {
      const Link& l = link(h);
      net[l.from] -= h.fraction;
      net[l.to] += h.fraction;
      out[l.from].push_back(&h);
    }
    for (const auto& [v, f] : net)
      CHECK(f == doctest::Approx(v == u.src ? -1.0 : v == u.dst ? 1.0 : 0.0));
    const bool across = L.node_of(u.src) != L.node_of(u.dst);
    const std::int64_t via =
        across ? L.nic_vertex(L.node_of(u.src), u.nic >= 0 ? u.nic : L.nic_of(L.local_of(u.src))) : u.dst;
    const std::int64_t shortest = dist(u.src)[static_cast<std::size_t>(u.dst)];
    const std::int64_t through = dist(u.src)[static_cast<std::size_t>(via)] + dist(via)[static_cast<std::size_t>(u.dst)];
    CHECK(through == shortest);  // the NIC the coster asks for lies on a shortest path
    // Every path of the route: starts at the source, consecutive links share endpoints, ends at the destination,
    // passes the NIC, and is as long as the shortest path.
    std::vector<std::int64_t> path;
    walk(u.src, u, out, path, through, via);
    CHECK(paths_ > 0);
  }

 private:
  const Link& link(const RouteHop& h) const { return g_.links()[static_cast<std::size_t>(h.link)]; }
  const std::vector<std::int64_t>& dist(std::int64_t v) {
    auto it = dist_.find(v);
    if (it == dist_.end()) it = dist_.emplace(v, g_.distances(v)).first;
    return it->second;
  }
  void walk(std::int64_t at, const UsedRoute& u, std::map<std::int64_t, std::vector<const RouteHop*>>& out,
            std::vector<std::int64_t>& path, std::int64_t length, std::int64_t via) {
    if (at == u.dst) {
      std::int64_t sum = 0;
      bool passes = via == u.dst;
      for (const std::int64_t l : path) {
        sum += g_.link_weight(l);
        passes = passes || g_.links()[static_cast<std::size_t>(l)].to == via;
      }
      CHECK(sum == length);
      CHECK(passes);
      ++paths_;
      return;
    }
    REQUIRE(out.count(at) == 1);  // the route does not stop before the destination
    for (const RouteHop* h : out[at]) {
      CHECK(link(*h).from == at);
      path.push_back(h->link);
      walk(link(*h).to, u, out, path, length, via);
      path.pop_back();
    }
  }
  const LinkGraph& g_;
  std::map<std::int64_t, std::vector<std::int64_t>> dist_;
  std::int64_t paths_ = 0;
};

/// nccl-tests all-reduce bus bandwidth of the ring model, GB/s.
double ring_busbw(const CollectiveCoster& coster, const Groups& groups) {
  const double n = static_cast<double>(groups.front().size());
  for (const auto& m : coster.models(Collective::all_reduce, groups))
    if (m.algorithm == Algorithm::ring) return m.bandwidth.value() * 2 * (n - 1) / n / 1e9;
  FAIL("no ring model");
  return 0;
}

ClusterSpec llama_fabric(std::int64_t nodes, std::int64_t nodes_per_pod, double pod_oversubscription) {
  ClusterSpec c = load_cluster("llama3-h100-roce");
  c.nodes = nodes;
  c.fabric.nodes_per_pod = nodes_per_pod;
  c.fabric.pod_oversubscription = pod_oversubscription;
  return c;
}
}  // namespace

TEST_CASE("every route the collective coster takes is a shortest path of the link graph") {
  ClusterSpec three_tier = load_cluster("dgx-a100-80gb:64");
  three_tier.nodes_per_leaf = 4;
  three_tier.fabric = FabricSpec{true, 16, 4.0, 2, 2};  // rails, pods of 16 nodes, 1:4, 2 spines and 2 cores
  ClusterSpec shared_nics = load_cluster("dgx-a100-80gb:8");
  shared_nics.nics_per_node = 4;
  shared_nics.nodes_per_leaf = 2;
  for (const ClusterSpec& c : {three_tier, llama_fabric(16, 8, 7), shared_nics}) {
    CAPTURE(c.name);
    const CollectiveCoster coster(c);
    const std::int64_t gpus = c.total_gpus();
    RouteChecker checker(coster.graph());
    std::int64_t routes = 0;
    auto check_all = [&](Collective op, const Groups& groups) {
      for (const UsedRoute& u : coster.routes_used(op, groups)) {
        checker.check(u);
        ++routes;
      }
    };
    for (const Collective op : {Collective::all_reduce, Collective::all_gather, Collective::broadcast}) {
      check_all(op, dp_groups(gpus, 8, 2));
      check_all(op, dp_groups(gpus, 4, 2));
      check_all(op, dp_groups(gpus, 2, 1));
      check_all(op, tp_groups(gpus, 8));
    }
    check_all(Collective::all_to_all, tp_groups(gpus, 16));
    check_all(Collective::send_recv, pp_pairs(gpus, 2));
    CHECK(routes > 1000);
  }
}

TEST_CASE("the route cache agrees with the graph for every pair of a small three-tier cluster") {
  ClusterSpec c = llama_fabric(8, 4, 7);
  c.fabric.spines = 2;
  const LinkGraph g(c);
  RouteChecker checker(g);
  for (std::int64_t src = 0; src < 64; src += 3)
    for (std::int64_t dst = 0; dst < 64; ++dst)
      if (src != dst) checker.check(UsedRoute{src, dst, -1, g.route(src, dst)});
}

// Llama 3-style fabric in miniature (preset llama3-h100-roce: racks of 2 nodes on one ToR, no rails), 2 pods of
// 2 racks. NIC: 50 GB/s x 0.94 = 47 GB/s. ToR uplink: 2 nodes x 8 NICs x 50 = 800 GB/s (1:1). Pod uplink (spine
// to core): 2 ToRs x 800 / 7 = 228.57 GB/s, x 0.94 = 214.86 GB/s. Group t = local t of each node (the DP groups
// of tp = 8); k of them run at once.
TEST_CASE("contention inside a pod at full bisection: k DP rings stay NIC-bound") {
  const CollectiveCoster coster(llama_fabric(8, 4, 7));
  // 4 nodes of pod 0, ring 0->1->2->3->0: each hop 2·3/4·S = 1.5 S. Per NIC 1.5 S at 47 GB/s; the ToR uplink
  // carries k·1.5 S at 752 GB/s (k = 8: 12 S, less than the NIC's 1.5 S x 752/47 = 24 S): busbw 47 for any k.
  for (const std::int64_t k : {1, 4, 8}) {
    Groups groups;
    for (std::int64_t t = 0; t < k; ++t) groups.push_back({t, 8 + t, 16 + t, 24 + t});
    CHECK(ring_busbw(coster, groups) == doctest::Approx(47.0));
  }
}

TEST_CASE("contention across pods at 1:7: k DP rings share the pod uplink") {
  // 8 nodes, ring 0->...->7->0 crosses pods at 3->4 (pod 0's uplink) and 7->0 (pod 1's); each hop 2·7/8·S =
  // 1.75 S. One pod uplink carries k·1.75 S at 214.86 GB/s; each NIC 1.75 S at 47 GB/s.
  // k = 1: NIC-bound (1.75/47 = 37.2 ms/GB vs 8.1): busbw 47. k = 4: pod 7 S/214.86 = 32.6 ms/GB < 37.2: still 47.
  // k = 8: pod 14 S/214.86 = 65.2 ms/GB: busbw = 214.86 / 8 = 26.86 GB/s, 57 % of the NIC's.
  const CollectiveCoster over(llama_fabric(8, 4, 7));
  auto rings = [](std::int64_t k) {
    Groups groups;
    for (std::int64_t t = 0; t < k; ++t) {
      groups.emplace_back();
      for (std::int64_t node = 0; node < 8; ++node) groups.back().push_back(node * 8 + t);
    }
    return groups;
  };
  CHECK(ring_busbw(over, rings(1)) == doctest::Approx(47.0));
  CHECK(ring_busbw(over, rings(4)) == doctest::Approx(47.0));
  const double pod_uplink = 2 * 800e9 / 7 * 0.94;
  CHECK(ring_busbw(over, rings(8)) == doctest::Approx(pod_uplink / 8 / 1e9));
  CHECK(ring_busbw(over, rings(8)) == doctest::Approx(26.857).epsilon(1e-4));
  // Step time of a 1 GB ring all-reduce: 2(n-1) network steps of 5 us + 8 x 1.75 GB over the pod uplink.
  const double expected = 14 * 5e-6 + 8 * 1.75e9 / pod_uplink;
  CHECK(over.time(Collective::all_reduce, kS, rings(8), Algorithm::ring).value() == doctest::Approx(expected));
  // The same fabric at full bisection above the pods: NIC-bound again.
  const CollectiveCoster full(llama_fabric(8, 4, 1));
  CHECK(ring_busbw(full, rings(8)) == doctest::Approx(47.0));
}

TEST_CASE("Llama 3 cluster: DP pairs across two 3,072-GPU pods get 1/7 of the NIC rate") {
  // llama3-h100-roce:768 = 2 pods of 384 nodes. 3,072 DP groups of 2 (local t of node i and of node i + 384):
  // every GPU of pod 0 sends S (2·1/2·S) to pod 1 at once. Pod uplink: 192 racks x 800 GB/s / 7 = 21,943 GB/s,
  // x 0.94 = 20,626 GB/s, shared by 3,072 flows: 6.714 GB/s each = 50 x 0.94 / 7 (busbw = algbw for n = 2).
  const CollectiveCoster coster(load_cluster("llama3-h100-roce:768"));
  Groups across, inside;
  for (std::int64_t node = 0; node < 384; ++node)
    for (std::int64_t t = 0; t < 8; ++t) across.push_back({node * 8 + t, (node + 384) * 8 + t});
  CHECK(ring_busbw(coster, across) == doctest::Approx(50 * 0.94 / 7));
  // Inside a pod (node i with node i + 192: other racks, same pod) the spines are not oversubscribed: NIC-bound.
  for (std::int64_t node = 0; node < 192; ++node)
    for (std::int64_t t = 0; t < 8; ++t) inside.push_back({node * 8 + t, (node + 192) * 8 + t});
  CHECK(ring_busbw(coster, inside) == doctest::Approx(47.0));
}

TEST_CASE("spines and cores change the routes, not the costs: ECMP spreads evenly over equal links") {
  ClusterSpec one = llama_fabric(8, 4, 7);
  ClusterSpec many = one;
  many.fabric.spines = 4;
  many.fabric.cores = 3;
  const CollectiveCoster a(one), b(many);
  for (const Groups& g : {dp_groups(64, 8, 1), dp_groups(64, 4, 1), tp_groups(64, 16)})
    for (const Collective op : {Collective::all_reduce, Collective::all_to_all}) {
      const auto ma = a.models(op, g), mb = b.models(op, g);
      REQUIRE(ma.size() == mb.size());
      for (std::size_t i = 0; i < ma.size(); ++i)
        CHECK(ma[i].bandwidth.value() == doctest::Approx(mb[i].bandwidth.value()));
    }
}
