/// The transfers of the ring, tree and hierarchical algorithms, as NCCL makes them.
#include "costs/transfers.hpp"

#include <vector>

namespace hpsim::costs::detail {

using topologies::LinkLayout;

namespace {

/// Parent of `rank` in NCCL's binary tree over n ranks (ncclGetBtree), -1 for the root.
std::int64_t btree_parent(std::int64_t rank, std::int64_t n) {
  if (rank == 0) return -1;
  std::int64_t bit = 1;
  while (bit < n && !(bit & rank)) bit <<= 1;
  std::int64_t up = (rank ^ bit) | (bit << 1);
  if (up >= n) up = rank ^ bit;
  return up;
}

/// Parent in NCCL's second tree (ncclGetDtree): shifted by one for odd n, mirrored for even n.
std::int64_t dtree_parent(std::int64_t rank, std::int64_t n) {
  if (n % 2 == 1) {
    const std::int64_t p = btree_parent((rank - 1 + n) % n, n);
    return p < 0 ? -1 : (p + 1) % n;
  }
  const std::int64_t p = btree_parent(n - 1 - rank, n);
  return p < 0 ? -1 : n - 1 - p;
}

/// Calls visit(j, b, r, cnt, start) for channel j = 0..channels-1 and, within it, each node block b of `g` in
/// order: the block's members r[0..cnt) and the member the channel enters it at, r[start].
template <typename Visit>
void each_channel_block(const GroupSet& set, const GroupSet::Group& g, std::int64_t channels, Visit&& visit) {
  for (std::int64_t j = 0; j < channels; ++j)
    for (std::int64_t b = 0; b < g.node_count(); ++b) {
      const std::int64_t block = g.first_block + b;
      const std::int64_t cnt = set.size(block);
      visit(j, b, set.block(block), cnt, j % cnt);
    }
}

}  // namespace

/// Ring over the group's blocks (NCCL rings): inside a node consecutive ranks over NVSwitch; across nodes, c
/// channels (c = fewest members on a node), channel j entering each node at its member j and leaving through
/// that member's NIC, so a full node's 8 members use its 8 NICs. Each rank sends `factor`·S per channel's share.
/// `closed` = false leaves out the hop back to the start (pipelined chain, broadcast).
void ring_transfers(const GroupSet& set, const GroupSet::Group& g, const LinkLayout& layout, double factor,
                    bool closed, LinkLoads& loads) {
  const std::int64_t nodes = g.node_count();
  const std::int64_t channels = nodes == 1 ? 1 : g.min_per_node;
  const double share = factor / static_cast<double>(channels);
  each_channel_block(set, g, channels, [&](std::int64_t j, std::int64_t b, const std::int64_t* r, std::int64_t cnt,
                                           std::int64_t start) {
    const std::int64_t at = chain(cnt, start, [&](std::int64_t x, std::int64_t y) { loads.send(r[x], r[y], share); });
    if (!closed && b == nodes - 1) return;
    const std::int64_t next_block = b + 1 == nodes ? g.first_block : g.first_block + b + 1;
    const std::int64_t entry = set.block(next_block)[j % set.size(next_block)];
    // On rails the channel stays on its entry member's rail (PXN); without rails the sender's own NIC is as near.
    loads.send(r[at], entry, share, layout.rail_optimized() ? layout.nic_of(layout.local_of(r[start])) : -1);
  });
}

/// Double binary tree across nodes, chain inside (NCCL tree all-reduce). One channel per member of the smallest
/// node block, each through its head's NIC, carrying S/c: inside the node the chain reduces towards the head
/// and broadcasts back; across nodes half the channel's data goes up and down each of the two trees.
void tree_transfers(const GroupSet& set, const GroupSet::Group& g, LinkLoads& loads) {
  const std::int64_t nodes = g.node_count();
  const std::int64_t channels = g.min_per_node;
  const double share = 1.0 / static_cast<double>(channels);
  // Parents depend only on the node position: compute them once per group, not once per channel.
  std::vector<std::int64_t> parents;
  parents.reserve(static_cast<std::size_t>(2 * nodes));
  for (std::int64_t b = 0; b < nodes; ++b) {
    parents.push_back(btree_parent(b, nodes));
    parents.push_back(dtree_parent(b, nodes));
  }
  each_channel_block(set, g, channels, [&](std::int64_t j, std::int64_t b, const std::int64_t* r, std::int64_t cnt,
                                           std::int64_t start) {
    // Reduce towards the head, broadcast back.
    chain(cnt, start, [&](std::int64_t x, std::int64_t y) { loads.exchange(r[x], r[y], share); });
    for (int tree = 0; tree < 2; ++tree) {
      const std::int64_t parent = parents[static_cast<std::size_t>(2 * b + tree)];
      if (parent < 0) continue;
      const std::int64_t pblock = g.first_block + parent;
      const std::int64_t phead = set.block(pblock)[j % set.size(pblock)];
      loads.exchange(r[start], phead, share / 2);  // through the child's NIC both ways
    }
  });
}

/// Ring among the members of one node (reduce-scatter or all-gather phase of the hierarchical all-reduce).
void intra_ring_transfers(const GroupSet& set, const GroupSet::Group& g, double factor, LinkLoads& loads) {
  for (std::int64_t block = g.first_block; block < g.last_block; ++block) {
    const std::int64_t cnt = set.size(block);
    const std::int64_t* r = set.block(block);
    for (std::int64_t i = 0; i < cnt; ++i) loads.send(r[i], r[i + 1 == cnt ? 0 : i + 1], factor);
  }
}

/// Ring across nodes among the members at the same position in their node, each on its own NIC, over S/c.
void inter_ring_transfers(const GroupSet& set, const GroupSet::Group& g, LinkLoads& loads) {
  const std::int64_t nodes = g.node_count();
  const double c = static_cast<double>(g.min_per_node);
  const double share = 2.0 * static_cast<double>(nodes - 1) / static_cast<double>(nodes) / c;
  for (std::int64_t p = 0; p < g.min_per_node; ++p)
    for (std::int64_t b = 0; b < nodes; ++b)
      loads.send(set.rank(g.first_block + b, p), set.rank(g.first_block + (b + 1 == nodes ? 0 : b + 1), p), share);
}

}  // namespace hpsim::costs::detail
