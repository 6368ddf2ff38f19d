#pragma once
/// Where every vertex and link of a LinkGraph sits, and a cache of the graph's routes: a few integer operations per hop.
#include <cstdint>
#include <span>
#include <vector>

#include "topologies/cluster_spec.hpp"

namespace hpsim::topologies {

/// One link of a route and the share of the flow that crosses it (ECMP splits a flow over equal-cost paths).
struct RouteHop {
  std::int64_t link = 0;
  double fraction = 1.0;
};

/// Vertex and link numbering of a cluster's link graph (see LinkGraph), and the graph's routes cached per class of
/// GPU pairs, so that routing on the planner's hot path allocates nothing and searches nothing.
///
/// Vertices: GPUs [0, T) (vertex = rank), NVSwitches (one per node), NICs (node-major), leaves (group-major, one
/// per plane per group of nodes_per_leaf nodes), spines (`spines` per plane per pod, pod-major; present when there
/// is more than one leaf group), cores (`cores` per plane; present when there is more than one pod). Every leaf
/// links to each spine of its pod and plane, every spine to each core of its plane. A plane is a rail
/// when the fabric is rail-optimized (NIC k of every node under plane k), else the whole fabric is one plane.
/// Links, each a pair (up/out = even id, down/in = odd id): GPU↔NVSwitch, GPU↔NIC attachments, NIC↔leaf,
/// leaf↔spine, spine↔core.
class LinkLayout {
 public:
  std::int64_t nodes = 1, gpus_per_node = 8, nics_per_node = 8, nodes_per_leaf = 1, leaf_groups = 1;
  std::int64_t planes = 8;               ///< leaves per group: nics_per_node when rail-optimized, else 1
  std::int64_t groups_per_pod = 1, pods = 1;
  std::int64_t spines = 1, cores = 1;    ///< switches per pod and plane / per plane (ECMP spreads over them)
  std::int64_t attachments_per_node = 8;  ///< GPU↔NIC pairs per node: max(gpus, nics)
  std::int64_t nvswitch_base = 0, nic_base = 0, leaf_base = 0, spine_base = -1, core_base = -1, vertex_count = 0;
  std::int64_t gpu_nic_base = 0, nic_leaf_base = 0, leaf_spine_base = 0, spine_core_base = 0, link_count = 0;

  explicit LinkLayout(const ClusterSpec& c);

  [[nodiscard]] std::int64_t node_of(std::int64_t rank) const { return rank_node_[static_cast<std::size_t>(rank)]; }
  [[nodiscard]] std::int64_t local_of(std::int64_t rank) const { return rank_local_[static_cast<std::size_t>(rank)]; }
  [[nodiscard]] std::int64_t group_of(std::int64_t node) const { return node_group_[static_cast<std::size_t>(node)]; }
  [[nodiscard]] std::int64_t pod_of(std::int64_t node) const { return node_pod_[static_cast<std::size_t>(node)]; }
  /// The NIC nearest GPU local index `g` (its PCIe switch): g·nics/gpus.
  [[nodiscard]] std::int64_t nic_of(std::int64_t g) const { return local_nic_[static_cast<std::size_t>(g)]; }
  /// Whether GPU local index `g` sits on NIC `k`'s PCIe switch.
  [[nodiscard]] bool attached(std::int64_t g, std::int64_t k) const {
    return nics_per_node <= gpus_per_node ? nic_of(g) == k : k * gpus_per_node / nics_per_node == g;
  }
  /// The plane (rail, or 0) NIC local index `k` connects to.
  [[nodiscard]] std::int64_t plane_of(std::int64_t k) const { return planes == 1 ? 0 : k; }
  [[nodiscard]] bool rail_optimized() const { return rail_optimized_; }

  // Vertex ids.
  [[nodiscard]] std::int64_t nic_vertex(std::int64_t node, std::int64_t k) const {
    return nic_base + node * nics_per_node + k;
  }
  [[nodiscard]] std::int64_t leaf_vertex(std::int64_t group, std::int64_t plane) const {
    return leaf_base + group * planes + plane;
  }
  [[nodiscard]] std::int64_t spine_vertex(std::int64_t pod, std::int64_t plane, std::int64_t s) const {
    return spine_base + (pod * planes + plane) * spines + s;
  }
  [[nodiscard]] std::int64_t core_vertex(std::int64_t plane, std::int64_t c) const {
    return core_base + plane * cores + c;
  }

  // Link ids: each pair is (up = away from the GPU, down = towards it).
  [[nodiscard]] std::int64_t gpu_up(std::int64_t rank) const { return 2 * rank; }
  [[nodiscard]] std::int64_t gpu_down(std::int64_t rank) const { return 2 * rank + 1; }
  [[nodiscard]] std::int64_t gpu_to_nic(std::int64_t node, std::int64_t g, std::int64_t k) const {
    return gpu_nic_base + 2 * (node * attachments_per_node + attachment(g, k));
  }
  [[nodiscard]] std::int64_t nic_up(std::int64_t node, std::int64_t k) const {
    return nic_leaf_base + 2 * (node * nics_per_node + k);
  }
  [[nodiscard]] std::int64_t leaf_up(std::int64_t group, std::int64_t plane, std::int64_t s) const {
    return leaf_spine_base + 2 * ((group * planes + plane) * spines + s);
  }
  [[nodiscard]] std::int64_t spine_up(std::int64_t pod, std::int64_t plane, std::int64_t s, std::int64_t c) const {
    return spine_core_base + 2 * (((pod * planes + plane) * spines + s) * cores + c);
  }

  /// Calls `hop(link, fraction)` for each link of the route from GPU `src` to GPU `dst`: the links of the graph's
  /// shortest paths, each with the share of the flow ECMP puts on it. Across nodes the traffic leaves through NIC
  /// `nic` of the source's node (-1: the source's nearest), as an NCCL channel does: the route is the shortest way
  /// to that NIC followed by the shortest way from it. The coster's inner loops load links straight from here
  /// (no buffer between the cache and the loads).
  template <typename Hop>
  void for_each_hop(std::int64_t src, std::int64_t dst, std::int64_t nic, Hop&& hop) const {
    if (src == dst) return;
    const std::int64_t sn = node_of(src), dn = node_of(dst), gs = local_of(src), gd = local_of(dst);
    if (sn == dn) {  // routes inside a node hang on the node alone
      const std::int64_t node_units[3] = {0, sn, dn};
      emit(local_class(gs, gd), node_units, hop);
      return;
    }
    const std::int64_t units[kUnits] = {0, sn, dn, group_of(sn), group_of(dn), pod_of(sn), pod_of(dn)};
    const std::int64_t relation = units[3] == units[4] ? 1 : units[5] == units[6] ? 2 : 3;
    const std::int64_t k = nic >= 0 ? nic : nic_of(gs);
    emit(to_nic_class(gs, k), units, hop);
    emit(from_nic_class(relation, k, gd), units, hop);
  }
  /// The same route written into `out` (room for max_route_hops()); returns its length.
  int route(std::int64_t src, std::int64_t dst, std::int64_t nic, RouteHop* out) const {
    int n = 0;
    for_each_hop(src, dst, nic, [&](std::int64_t link, double fraction) { out[n++] = RouteHop{link, fraction}; });
    return n;
  }
  /// The longest route, in hops: the buffer size route() needs.
  [[nodiscard]] int max_route_hops() const { return max_route_hops_; }

  // Route classes: a route depends only on the GPUs' local indices, the NIC and how far apart the nodes are
  // (relation 1: same leaf group, 2: same pod, 3: different pods).
  /// GPU local `gs` to GPU local `gd` of the same node.
  [[nodiscard]] std::size_t local_class(std::int64_t gs, std::int64_t gd) const {
    return static_cast<std::size_t>(gs * gpus_per_node + gd);
  }
  /// GPU local `gs` to NIC `k` of its node.
  [[nodiscard]] std::size_t to_nic_class(std::int64_t gs, std::int64_t k) const {
    return static_cast<std::size_t>(gpus_per_node * gpus_per_node + gs * nics_per_node + k);
  }
  /// NIC `k` to GPU local `gd` of a node at `relation` (1..3).
  [[nodiscard]] std::size_t from_nic_class(std::int64_t relation, std::int64_t k, std::int64_t gd) const {
    return static_cast<std::size_t>(gpus_per_node * (gpus_per_node + nics_per_node) +
                                    ((relation - 1) * nics_per_node + k) * gpus_per_node + gd);
  }
  [[nodiscard]] std::size_t route_classes() const {
    return static_cast<std::size_t>(gpus_per_node * (gpus_per_node + 4 * nics_per_node));
  }
  /// Caches class `cls`'s route, found in the graph between a vertex on node `sn` and one on node `dn` (the class's
  /// representatives): every link is stored relative to the pair's nodes, groups or pods. LinkGraph fills the
  /// cache, then seals it.
  void cache_route(std::size_t cls, std::int64_t sn, std::int64_t dn, std::span<const RouteHop> hops);
  void seal_routes();
  /// A representative destination node at `relation` (1..3) from node 0, or -1 when the cluster has no such pair.
  [[nodiscard]] std::int64_t representative_node(std::int64_t relation) const;

 private:
  static constexpr int kUnits = 7;  ///< none, src node, dst node, src group, dst group, src pod, dst pod
  /// link = constant + step · (the unit of the pair it hangs on)
  struct HopTemplate {
    std::int64_t constant = 0;
    std::int32_t step = 0, unit = 0;
    double fraction = 1.0;
  };
  template <typename Hop>
  void emit(std::size_t cls, const std::int64_t* units, Hop& hop) const {
    const HopTemplate* t = hops_.data() + route_start_[cls];
    const HopTemplate* const end = hops_.data() + route_start_[cls + 1];
    for (; t != end; ++t) hop(t->constant + t->step * units[t->unit], t->fraction);
  }
  [[nodiscard]] HopTemplate hop_template(std::int64_t link, std::int64_t sn, std::int64_t dn) const;

  // Lookup tables: routing runs millions of times per planner search, integer division would dominate it.
  std::vector<std::int32_t> rank_node_, rank_local_, node_group_, node_pod_, local_nic_;
  bool rail_optimized_ = true;
  std::vector<std::vector<HopTemplate>> pending_;  ///< per class, until seal_routes() packs them
  std::vector<HopTemplate> hops_;
  std::vector<std::int32_t> route_start_;  ///< per class, plus a sentinel
  int max_route_hops_ = 0;
  [[nodiscard]] std::int64_t attachment(std::int64_t g, std::int64_t k) const {
    return nics_per_node <= gpus_per_node ? g : k;
  }
};

}  // namespace hpsim::topologies
