#pragma once
/// Internal to the coster: the point-to-point transfers of each collective algorithm over one group, loaded onto
/// the links their routes cross.
#include <cstdint>

#include "costs/group_set.hpp"
#include "costs/link_loads.hpp"

namespace hpsim::costs::detail {

/// Visits the members of a node block in chain order start, start+1, ..., start-1 (mod cnt), calling hop(a, b) for
/// each consecutive pair (no division in the loop); returns the last member.
template <typename Hop>
std::int64_t chain(std::int64_t cnt, std::int64_t start, Hop&& hop) {
  std::int64_t at = start;
  for (std::int64_t t = 0; t + 1 < cnt; ++t) {
    const std::int64_t next = at + 1 == cnt ? 0 : at + 1;
    hop(at, next);
    at = next;
  }
  return at;
}

/// Ring over the group's blocks (NCCL rings); each rank sends `factor`·S in all; `closed` = false leaves out the
/// hop back to the start (a pipelined chain: broadcast).
void ring_transfers(const GroupSet& set, const GroupSet::Group& g, const topologies::LinkLayout& layout,
                    double factor, bool closed, LinkLoads& loads);
/// NCCL's double binary tree across nodes, a chain inside each (tree all-reduce).
void tree_transfers(const GroupSet& set, const GroupSet::Group& g, LinkLoads& loads);
/// A ring among the members of each node, each sending `factor`·S (a phase of the hierarchical all-reduce).
void intra_ring_transfers(const GroupSet& set, const GroupSet::Group& g, double factor, LinkLoads& loads);
/// A ring across nodes among the members at the same position in their node, each on its own NIC, over S/c.
void inter_ring_transfers(const GroupSet& set, const GroupSet::Group& g, LinkLoads& loads);

}  // namespace hpsim::costs::detail
