#pragma once
/// The cluster as a graph of devices and directed links (Boost.Graph): GPUs, one NVSwitch per node, NICs, leaf
/// switches (per rail, or per group of nodes), spines per pod and cores; routes are its shortest paths (ECMP).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/units.hpp"
#include "topologies/cluster_spec.hpp"
#include "topologies/link_layout.hpp"

namespace hpsim::topologies {

enum class DeviceKind { gpu, nvswitch, nic, leaf, spine, core };
enum class LinkClass { nvlink, network };

/// A directed link: its rate per direction and class (for efficiency and latency).
struct Link {
  std::int64_t from = 0, to = 0;  ///< vertex ids
  core::BytesPerSecond bandwidth;
  LinkClass link_class = LinkClass::nvlink;
};

/// The cluster's devices and directed links; cheap to copy (shares its immutable graph).
class LinkGraph {
 public:
  explicit LinkGraph(const ClusterSpec& cluster);
  [[nodiscard]] std::int64_t gpu_vertex(std::int64_t rank) const;
  [[nodiscard]] std::int64_t vertex_count() const;
  [[nodiscard]] const std::vector<Link>& links() const;
  [[nodiscard]] DeviceKind kind(std::int64_t vertex) const;
  [[nodiscard]] std::string vertex_name(std::int64_t vertex) const;
  /// The route from GPU `src` to GPU `dst`: the links of the graph's shortest paths, with the share of the flow
  /// each carries when every switch and GPU splits it evenly over its equal-cost next hops (ECMP). Across nodes the
  /// flow leaves through NIC `nic_local_index` of the source's node when one is named (-1: any).
  [[nodiscard]] std::vector<RouteHop> route(std::int64_t src, std::int64_t dst, std::int64_t nic_local_index = -1) const;
  /// Routing cost of a link: 1 for NVLink, 2 for PCIe and the network, so that GPUs of a node reach each other
  /// over NVSwitch rather than through the PCIe switch of a shared NIC, and a detour over NVLink to another NIC
  /// wins against a hairpin through a leaf.
  [[nodiscard]] std::int64_t link_weight(std::int64_t link) const;
  /// Length (sum of link weights) of the shortest path from `from_vertex` to every vertex (Dijkstra).
  [[nodiscard]] std::vector<std::int64_t> distances(std::int64_t from_vertex) const;
  /// Link ids leaving `vertex` (from the Boost graph).
  [[nodiscard]] std::vector<std::int64_t> out_links(std::int64_t vertex) const;
  /// The numbering behind vertex and link ids; its route() writes into a caller's buffer (no allocation).
  [[nodiscard]] const LinkLayout& layout() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace hpsim::topologies
