#pragma once
/// Where every vertex and link of a LinkGraph sits, as arithmetic: routing is a few integer operations per hop.
#include <cstdint>
#include <vector>

#include "topologies/cluster_spec.hpp"

namespace hpsim::topologies {

/// Vertex and link numbering of a cluster's link graph (see LinkGraph), and O(path length) routing over it.
///
/// Vertices: GPUs [0, T) (vertex = rank), NVSwitches (one per node), NICs (node-major), leaves (group-major,
/// one per rail per group of nodes_per_leaf nodes), then one spine when there is more than one leaf group.
/// Links, each a pair (up/out = even id, down/in = odd id): GPU↔NVSwitch, GPU↔NIC attachments, NIC↔leaf,
/// leaf↔spine.
struct LinkLayout {
  static constexpr int kMaxRouteLinks = 10;  ///< PXN + NIC + leaf + spine + leaf + NIC + PXN

  std::int64_t nodes = 1, gpus_per_node = 8, nics_per_node = 8, nodes_per_leaf = 1, leaf_groups = 1;
  std::int64_t attachments_per_node = 8;  ///< GPU↔NIC pairs per node: max(gpus, nics)
  std::int64_t nvswitch_base = 0, nic_base = 0, leaf_base = 0, spine_vertex = -1, vertex_count = 0;
  std::int64_t gpu_nic_base = 0, nic_leaf_base = 0, leaf_spine_base = 0, link_count = 0;

  explicit LinkLayout(const ClusterSpec& c);

  [[nodiscard]] std::int64_t node_of(std::int64_t rank) const { return rank_node_[static_cast<std::size_t>(rank)]; }
  [[nodiscard]] std::int64_t local_of(std::int64_t rank) const { return rank_local_[static_cast<std::size_t>(rank)]; }
  [[nodiscard]] std::int64_t group_of(std::int64_t node) const { return node_group_[static_cast<std::size_t>(node)]; }
  /// The NIC nearest GPU local index `g` (its PCIe switch): g·nics/gpus.
  [[nodiscard]] std::int64_t nic_of(std::int64_t g) const { return local_nic_[static_cast<std::size_t>(g)]; }
  /// Whether GPU local index `g` sits on NIC `k`'s PCIe switch.
  [[nodiscard]] bool attached(std::int64_t g, std::int64_t k) const {
    return nics_per_node <= gpus_per_node ? nic_of(g) == k : k * gpus_per_node / nics_per_node == g;
  }
  /// The first GPU local index attached to NIC `k` (the one PXN forwards through).
  [[nodiscard]] std::int64_t home_gpu(std::int64_t k) const { return nic_home_[static_cast<std::size_t>(k)]; }

  // Link ids: each pair is (up = away from the GPU, down = towards it).
  [[nodiscard]] std::int64_t gpu_up(std::int64_t rank) const { return 2 * rank; }
  [[nodiscard]] std::int64_t gpu_down(std::int64_t rank) const { return 2 * rank + 1; }
  [[nodiscard]] std::int64_t gpu_to_nic(std::int64_t node, std::int64_t g, std::int64_t k) const {
    return gpu_nic_base + 2 * (node * attachments_per_node + attachment(g, k));
  }
  [[nodiscard]] std::int64_t nic_to_gpu(std::int64_t node, std::int64_t g, std::int64_t k) const {
    return gpu_to_nic(node, g, k) + 1;
  }
  [[nodiscard]] std::int64_t nic_up(std::int64_t node, std::int64_t k) const {
    return nic_leaf_base + 2 * (node * nics_per_node + k);
  }
  [[nodiscard]] std::int64_t nic_down(std::int64_t node, std::int64_t k) const { return nic_up(node, k) + 1; }
  [[nodiscard]] std::int64_t leaf_up(std::int64_t group, std::int64_t k) const {
    return leaf_spine_base + 2 * (group * nics_per_node + k);
  }
  [[nodiscard]] std::int64_t leaf_down(std::int64_t group, std::int64_t k) const { return leaf_up(group, k) + 1; }

  /// Writes the link ids from GPU `src` to GPU `dst` into `out` (room for kMaxRouteLinks) and returns how many.
  /// Across nodes the traffic leaves through NIC `nic` (default: the source's nearest) and stays on that rail:
  /// it reaches the destination's NIC of the same rail; GPUs not attached to that NIC forward over NVLink (PXN).
  int route(std::int64_t src, std::int64_t dst, std::int64_t nic, std::int64_t* out) const {
    if (src == dst) return 0;
    int n = 0;
    const std::int64_t sn = node_of(src), dn = node_of(dst);
    if (sn == dn) {
      out[n++] = gpu_up(src);
      out[n++] = gpu_down(dst);
      return n;
    }
    const std::int64_t sg = local_of(src), dg = local_of(dst);
    const std::int64_t k = nic >= 0 ? nic : nic_of(sg);
    if (attached(sg, k)) {
      out[n++] = gpu_to_nic(sn, sg, k);
    } else {
      const std::int64_t h = home_gpu(k);
      out[n++] = gpu_up(src);
      out[n++] = gpu_down(sn * gpus_per_node + h);
      out[n++] = gpu_to_nic(sn, h, k);
    }
    out[n++] = nic_up(sn, k);
    const std::int64_t sq = group_of(sn), dq = group_of(dn);
    if (sq != dq) {
      out[n++] = leaf_up(sq, k);
      out[n++] = leaf_down(dq, k);
    }
    out[n++] = nic_down(dn, k);
    if (attached(dg, k)) {
      out[n++] = nic_to_gpu(dn, dg, k);
    } else {
      const std::int64_t h = home_gpu(k);
      out[n++] = nic_to_gpu(dn, h, k);
      out[n++] = gpu_up(dn * gpus_per_node + h);
      out[n++] = gpu_down(dst);
    }
    return n;
  }

 private:
  // Lookup tables: routing runs millions of times per planner search, integer division would dominate it.
  std::vector<std::int32_t> rank_node_, rank_local_, node_group_, local_nic_, nic_home_;
  [[nodiscard]] std::int64_t attachment(std::int64_t g, std::int64_t k) const {
    return nics_per_node <= gpus_per_node ? g : k;
  }
};

}  // namespace hpsim::topologies
