#pragma once
/// Internal to the coster: concurrent groups of ranks flattened into per-node blocks, and which of them need their
/// transfers enumerated (the others load copies of the same links).
#include <cstdint>
#include <vector>

#include "costs/collectives.hpp"
#include "topologies/link_layout.hpp"

namespace hpsim::costs::detail {

/// The non-trivial groups, flattened: ranks sorted, split into per-node blocks (contiguous after sorting).
struct GroupSet {
  struct Group {
    std::int64_t first_block = 0, last_block = 0;  ///< [first, last) into block_start
    std::int64_t min_per_node = 0, max_per_node = 0;
    [[nodiscard]] std::int64_t node_count() const { return last_block - first_block; }
  };
  std::vector<std::int64_t> ranks;
  std::vector<std::int64_t> block_start;  ///< one per block, plus a sentinel after each group's last block
  std::vector<Group> groups;

  [[nodiscard]] std::int64_t begin(std::int64_t block) const { return block_start[static_cast<std::size_t>(block)]; }
  [[nodiscard]] std::int64_t size(std::int64_t block) const { return begin(block + 1) - begin(block); }
  [[nodiscard]] const std::int64_t* block(std::int64_t b) const { return ranks.data() + begin(b); }
  [[nodiscard]] std::int64_t rank(std::int64_t block, std::int64_t i) const {
    return ranks[static_cast<std::size_t>(begin(block) + i)];
  }
  [[nodiscard]] std::int64_t ranks_in(const Group& g) const { return begin(g.last_block) - begin(g.first_block); }
  [[nodiscard]] std::int64_t first_rank(const Group& g) const {
    return ranks[static_cast<std::size_t>(begin(g.first_block))];
  }
  [[nodiscard]] std::int64_t last_rank(const Group& g) const {
    return ranks[static_cast<std::size_t>(begin(g.last_block) - 1)];
  }
};

/// The groups of more than one rank: send_recv keeps each (sender, receiver) pair as given, a block per rank; the
/// other collectives order ranks by node, as NCCL's rings do. Bad ranks and send_recv groups not of 2 throw.
GroupSet flatten(const std::vector<std::vector<std::int64_t>>& groups, const topologies::LinkLayout& layout,
                 Collective op);

/// Per group, whether its transfers must be enumerated: 0 where the group only loads copies of links that a kept
/// group loads the same way, so that the busiest link's load is the same without it.
std::vector<char> representatives(const GroupSet& set, const topologies::LinkLayout& layout);

}  // namespace hpsim::costs::detail
