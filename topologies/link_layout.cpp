#include "topologies/link_layout.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace hpsim::topologies {

LinkLayout::LinkLayout(const ClusterSpec& c)
    : nodes(c.nodes),
      gpus_per_node(c.gpus_per_node),
      nics_per_node(c.nics_per_node),
      nodes_per_leaf(c.nodes_per_leaf),
      leaf_groups((c.nodes + c.nodes_per_leaf - 1) / c.nodes_per_leaf),
      planes(c.fabric.rail_optimized ? c.nics_per_node : 1),
      spines(c.fabric.spines),
      cores(c.fabric.cores),
      attachments_per_node(std::max(c.gpus_per_node, c.nics_per_node)),
      rail_optimized_(c.fabric.rail_optimized) {
  groups_per_pod = c.fabric.nodes_per_pod > 0 ? std::max<std::int64_t>(1, c.fabric.nodes_per_pod / nodes_per_leaf)
                                              : leaf_groups;
  pods = (leaf_groups + groups_per_pod - 1) / groups_per_pod;
  const std::int64_t gpus = nodes * gpus_per_node;
  const std::int64_t leaves = leaf_groups * planes;
  const std::int64_t spine_count = leaf_groups > 1 ? pods * planes * spines : 0;
  const std::int64_t core_count = pods > 1 ? planes * cores : 0;
  nvswitch_base = gpus;
  nic_base = nvswitch_base + nodes;
  leaf_base = nic_base + nodes * nics_per_node;
  spine_base = spine_count > 0 ? leaf_base + leaves : -1;
  core_base = core_count > 0 ? leaf_base + leaves + spine_count : -1;
  vertex_count = leaf_base + leaves + spine_count + core_count;
  gpu_nic_base = 2 * gpus;
  nic_leaf_base = gpu_nic_base + 2 * nodes * attachments_per_node;
  leaf_spine_base = nic_leaf_base + 2 * nodes * nics_per_node;
  spine_core_base = leaf_spine_base + (spine_count > 0 ? 2 * leaves * spines : 0);
  link_count = spine_core_base + (core_count > 0 ? 2 * spine_count * cores : 0);
  rank_node_.resize(static_cast<std::size_t>(gpus));
  rank_local_.resize(static_cast<std::size_t>(gpus));
  for (std::int64_t r = 0; r < gpus; ++r) {
    rank_node_[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(r / gpus_per_node);
    rank_local_[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(r % gpus_per_node);
  }
  for (std::int64_t n = 0; n < nodes; ++n) {
    node_group_.push_back(static_cast<std::int32_t>(n / nodes_per_leaf));
    node_pod_.push_back(static_cast<std::int32_t>(n / nodes_per_leaf / groups_per_pod));
  }
  for (std::int64_t g = 0; g < gpus_per_node; ++g)
    local_nic_.push_back(static_cast<std::int32_t>(g * nics_per_node / gpus_per_node));
  pending_.resize(route_classes());
}

std::int64_t LinkLayout::representative_node(std::int64_t relation) const {
  switch (relation) {
    case 1: return nodes_per_leaf > 1 && nodes > 1 ? 1 : -1;
    case 2: return groups_per_pod > 1 && leaf_groups > 1 ? nodes_per_leaf : -1;
    case 3: return pods > 1 ? groups_per_pod * nodes_per_leaf : -1;
    default: return -1;
  }
}

LinkLayout::HopTemplate LinkLayout::hop_template(std::int64_t link, std::int64_t sn, std::int64_t dn) const {
  // Which block of link pairs `link` is in, the unit its index counts (node, group or pod) and pairs per unit.
  std::int64_t base = 0, per_unit = gpus_per_node, src_unit = sn, dst_unit = dn;
  int unit_kind = 1;  // src node; +1 for dst, +2 for groups, +4 for pods
  if (link >= spine_core_base) {
    base = spine_core_base, per_unit = planes * spines * cores, src_unit = pod_of(sn), dst_unit = pod_of(dn), unit_kind = 5;
  } else if (link >= leaf_spine_base) {
    base = leaf_spine_base, per_unit = planes * spines, src_unit = group_of(sn), dst_unit = group_of(dn), unit_kind = 3;
  } else if (link >= nic_leaf_base) {
    base = nic_leaf_base, per_unit = nics_per_node;
  } else if (link >= gpu_nic_base) {
    base = gpu_nic_base, per_unit = attachments_per_node;
  }
  const std::int64_t pair = (link - base) / 2, unit = pair / per_unit;
  if (unit != src_unit && unit != dst_unit)
    throw std::logic_error("link graph: a route between nodes " + std::to_string(sn) + " and " + std::to_string(dn) +
                           " crosses link " + std::to_string(link) + " of neither");
  const std::int64_t step = 2 * per_unit;
  return HopTemplate{link - step * unit, static_cast<std::int32_t>(step), unit == src_unit ? unit_kind : unit_kind + 1,
                     1.0};
}

void LinkLayout::cache_route(std::size_t cls, std::int64_t sn, std::int64_t dn, std::span<const RouteHop> hops) {
  auto& out = pending_.at(cls);
  out.clear();
  for (const RouteHop& h : hops) {
    HopTemplate t = hop_template(h.link, sn, dn);
    t.fraction = h.fraction;
    out.push_back(t);
  }
}

void LinkLayout::seal_routes() {
  hops_.clear();
  route_start_.assign(1, 0);
  int longest_local = 0, longest_to = 0, longest_from = 0;
  for (std::size_t cls = 0; cls < pending_.size(); ++cls) {
    hops_.insert(hops_.end(), pending_[cls].begin(), pending_[cls].end());
    route_start_.push_back(static_cast<std::int32_t>(hops_.size()));
    const int n = static_cast<int>(pending_[cls].size());
    int& longest = cls < to_nic_class(0, 0) ? longest_local : cls < from_nic_class(1, 0, 0) ? longest_to : longest_from;
    longest = std::max(longest, n);
  }
  max_route_hops_ = std::max(longest_local, longest_to + longest_from);
  pending_.clear();
  pending_.shrink_to_fit();
}

}  // namespace hpsim::topologies
