#include "topologies/link_layout.hpp"

#include <algorithm>

namespace hpsim::topologies {

LinkLayout::LinkLayout(const ClusterSpec& c)
    : nodes(c.nodes),
      gpus_per_node(c.gpus_per_node),
      nics_per_node(c.nics_per_node),
      nodes_per_leaf(c.nodes_per_leaf),
      leaf_groups((c.nodes + c.nodes_per_leaf - 1) / c.nodes_per_leaf),
      attachments_per_node(std::max(c.gpus_per_node, c.nics_per_node)) {
  const std::int64_t gpus = nodes * gpus_per_node;
  nvswitch_base = gpus;
  nic_base = nvswitch_base + nodes;
  leaf_base = nic_base + nodes * nics_per_node;
  const std::int64_t leaves = leaf_groups * nics_per_node;
  spine_vertex = leaf_groups > 1 ? leaf_base + leaves : -1;
  vertex_count = leaf_base + leaves + (leaf_groups > 1 ? 1 : 0);
  gpu_nic_base = 2 * gpus;
  nic_leaf_base = gpu_nic_base + 2 * nodes * attachments_per_node;
  leaf_spine_base = nic_leaf_base + 2 * nodes * nics_per_node;
  link_count = leaf_spine_base + (leaf_groups > 1 ? 2 * leaves : 0);
  rank_node_.resize(static_cast<std::size_t>(gpus));
  rank_local_.resize(static_cast<std::size_t>(gpus));
  for (std::int64_t r = 0; r < gpus; ++r) {
    rank_node_[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(r / gpus_per_node);
    rank_local_[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(r % gpus_per_node);
  }
  for (std::int64_t n = 0; n < nodes; ++n) node_group_.push_back(static_cast<std::int32_t>(n / nodes_per_leaf));
  for (std::int64_t g = 0; g < gpus_per_node; ++g)
    local_nic_.push_back(static_cast<std::int32_t>(g * nics_per_node / gpus_per_node));
  for (std::int64_t k = 0; k < nics_per_node; ++k)
    nic_home_.push_back(static_cast<std::int32_t>(nics_per_node <= gpus_per_node
                                                       ? (k * gpus_per_node + nics_per_node - 1) / nics_per_node
                                                       : k * gpus_per_node / nics_per_node));
}

}  // namespace hpsim::topologies
