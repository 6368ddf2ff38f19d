#pragma once
/// The cluster as a graph of devices and directed links (Boost.Graph): GPUs, one NVSwitch per node, NICs,
/// leaf switches (one per rail per group of nodes_per_leaf nodes) and spine switches; routes between GPUs.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/units.hpp"
#include "topologies/cluster_spec.hpp"
#include "topologies/link_layout.hpp"

namespace hpsim::topologies {

enum class DeviceKind { gpu, nvswitch, nic, leaf, spine };
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
  /// Link ids from GPU `src` to GPU `dst` (up-down routing: NVSwitch inside a node; NIC, leaf, spine across).
  /// The NIC is the one nearest the GPU (rail of its local index) unless `nic_local_index` names another.
  [[nodiscard]] std::vector<std::int64_t> route(std::int64_t src, std::int64_t dst, std::int64_t nic_local_index = -1) const;
  /// Link ids leaving `vertex` (from the Boost graph).
  [[nodiscard]] std::vector<std::int64_t> out_links(std::int64_t vertex) const;
  /// The numbering behind vertex and link ids; its route() writes into a caller's buffer (no allocation).
  [[nodiscard]] const LinkLayout& layout() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace hpsim::topologies
