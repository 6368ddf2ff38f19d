/// Flattening concurrent groups into per-node blocks, and choosing the groups whose transfers the coster enumerates.
#include "costs/group_set.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

namespace hpsim::costs::detail {

using topologies::LinkLayout;

namespace {

/// Appends group `g`'s ranks to `set`, checked, in the order the collective visits them.
void append_ranks(GroupSet& set, const std::vector<std::int64_t>& g, std::int64_t total, bool keep_order) {
  const std::size_t first = set.ranks.size();
  set.ranks.insert(set.ranks.end(), g.begin(), g.end());
  std::int64_t* const r = set.ranks.data() + first;
  bool sorted = true;
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (static_cast<std::uint64_t>(r[i]) >= static_cast<std::uint64_t>(total))  // negative ones too
      throw std::out_of_range("collective group: rank " + std::to_string(r[i]) + " outside the cluster of " +
                              std::to_string(total) + " GPUs");
    sorted = sorted && (i == 0 || r[i - 1] <= r[i]);
  }
  if (!keep_order && !sorted) std::sort(r, r + g.size());
}

/// Splits the ranks from `first` on into per-node blocks (a block per rank when `block_per_rank`) and describes them.
GroupSet::Group append_blocks(GroupSet& set, std::size_t first, const LinkLayout& layout, bool block_per_rank) {
  GroupSet::Group info;
  info.first_block = static_cast<std::int64_t>(set.block_start.size());
  info.min_per_node = std::numeric_limits<std::int64_t>::max();
  const auto close_block = [&](std::size_t end) {
    const auto size = static_cast<std::int64_t>(end) - set.block_start.back();
    info.min_per_node = std::min(info.min_per_node, size);
    info.max_per_node = std::max(info.max_per_node, size);
  };
  std::int64_t previous_node = -1;
  for (std::size_t i = first; i < set.ranks.size(); ++i) {
    const std::int64_t node = layout.node_of(set.ranks[i]);
    if (node != previous_node || block_per_rank) {
      if (i != first) close_block(i);
      set.block_start.push_back(static_cast<std::int64_t>(i));
    }
    previous_node = node;
  }
  close_block(set.ranks.size());
  info.last_block = static_cast<std::int64_t>(set.block_start.size());
  set.block_start.push_back(static_cast<std::int64_t>(set.ranks.size()));  // sentinel
  return info;
}

/// When every group lies inside one node, a node's links carry its own groups' transfers alone (routes inside a node
/// stay on its links), and every node's links are alike: nodes holding the same sequence of groups (the same local
/// indices in the same order) load their links identically, so only the first such node's groups are enumerated,
/// e.g. one of the 2,048 nodes of tp = 8 groups on 16,384 GPUs. Empty when some group spans nodes.
std::vector<char> node_representatives(const GroupSet& set, const LinkLayout& layout) {
  std::vector<std::pair<std::int64_t, std::size_t>> by_node;  // (node, group), in node order then group order
  by_node.reserve(set.groups.size());
  for (std::size_t gi = 0; gi < set.groups.size(); ++gi) {
    const auto& g = set.groups[gi];
    const std::int64_t node = layout.node_of(set.first_rank(g));
    if (node != layout.node_of(set.last_rank(g))) return {};
    by_node.emplace_back(node, gi);
  }
  if (!std::is_sorted(by_node.begin(), by_node.end())) std::sort(by_node.begin(), by_node.end());
  // Each node's signature: per group its size and its ranks' local indices, in the order transfers visit them.
  std::vector<std::int64_t> signature;
  std::unordered_map<std::uint64_t, std::vector<std::vector<std::int64_t>>> kept;  // distinct ones, by hash
  std::vector<char> keep(set.groups.size(), 0);
  for (std::size_t i = 0; i < by_node.size();) {
    std::size_t j = i;
    signature.clear();
    std::uint64_t hash = 1469598103934665603ull;  // FNV-1a over the signature's values
    for (; j < by_node.size() && by_node[j].first == by_node[i].first; ++j) {
      const auto& g = set.groups[by_node[j].second];
      signature.push_back(set.ranks_in(g));
      for (std::int64_t r = set.begin(g.first_block); r < set.begin(g.last_block); ++r)
        signature.push_back(layout.local_of(set.ranks[static_cast<std::size_t>(r)]));
    }
    for (const std::int64_t v : signature) hash = (hash ^ static_cast<std::uint64_t>(v)) * 1099511628211ull;
    auto& same_hash = kept[hash];
    if (std::find(same_hash.begin(), same_hash.end(), signature) == same_hash.end()) {
      for (std::size_t k = i; k < j; ++k) keep[by_node[k].second] = 1;
      same_hash.push_back(signature);
    }
    i = j;
  }
  return keep;
}

/// Whether every node of `g` holds the same local indices, in the same order (the group's pattern).
bool same_locals_on_every_node(const GroupSet& set, const GroupSet::Group& g, const LinkLayout& layout) {
  const std::int64_t cnt = set.size(g.first_block);
  const std::int64_t* first = set.block(g.first_block);
  for (std::int64_t b = g.first_block + 1; b < g.last_block; ++b) {
    if (set.size(b) != cnt) return false;
    const std::int64_t* r = set.block(b);
    for (std::int64_t i = 0; i < cnt; ++i)
      if (layout.local_of(r[i]) != layout.local_of(first[i])) return false;
  }
  return true;
}

/// Whether two such groups have the same pattern relative to their lowest local index (`same_base`: and the same
/// lowest index, i.e. exactly the same local indices).
bool same_pattern(const GroupSet& set, const GroupSet::Group& a, const GroupSet::Group& b, const LinkLayout& layout,
                  bool same_base) {
  const std::int64_t cnt = set.size(a.first_block);
  if (set.size(b.first_block) != cnt) return false;
  const std::int64_t *ra = set.block(a.first_block), *rb = set.block(b.first_block);
  const std::int64_t shift = same_base ? 0 : layout.local_of(rb[0]) - layout.local_of(ra[0]);
  for (std::int64_t i = 0; i < cnt; ++i)
    if (layout.local_of(rb[i]) - layout.local_of(ra[i]) != shift) return false;
  return true;
}

/// Whether two groups span the same nodes, in the same order.
bool same_nodes(const GroupSet& set, const GroupSet::Group& a, const GroupSet::Group& b, const LinkLayout& layout) {
  if (a.node_count() != b.node_count()) return false;
  for (std::int64_t k = 0; k < a.node_count(); ++k)
    if (layout.node_of(*set.block(a.first_block + k)) != layout.node_of(*set.block(b.first_block + k))) return false;
  return true;
}

/// Per class, whether it is the first of the classes with its pattern (up to a shift) and the same groups on the
/// same nodes, in order: the others load isomorphic copies of its links.
std::vector<char> distinct_classes(const GroupSet& set, const LinkLayout& layout,
                                   const std::vector<std::size_t>& class_of, const std::vector<std::size_t>& class_first) {
  const std::size_t classes = class_first.size();
  std::vector<std::size_t> start(classes + 1, 0), members(class_of.size());  // groups class by class, in order
  for (const std::size_t c : class_of) ++start[c + 1];
  for (std::size_t c = 0; c < classes; ++c) start[c + 1] += start[c];
  std::vector<std::size_t> fill(start.begin(), start.end() - 1);
  for (std::size_t gi = 0; gi < class_of.size(); ++gi) members[fill[class_of[gi]]++] = gi;
  const auto same_groups = [&](std::size_t a, std::size_t b) {
    if (start[a + 1] - start[a] != start[b + 1] - start[b]) return false;
    if (!same_pattern(set, set.groups[class_first[a]], set.groups[class_first[b]], layout, false)) return false;
    for (std::size_t k = 0; k < start[a + 1] - start[a]; ++k)
      if (!same_nodes(set, set.groups[members[start[a] + k]], set.groups[members[start[b] + k]], layout)) return false;
    return true;
  };
  std::vector<char> keep(classes, 1);
  for (std::size_t a = 0; a < classes; ++a)
    for (std::size_t b = 0; b < a && keep[a]; ++b)
      if (keep[b] && same_groups(a, b)) keep[a] = 0;
  return keep;
}

/// Which groups need their transfers enumerated on a rail-optimized fabric with one NIC per GPU (every rail its own
/// plane of leaves, spines and cores). A group whose every node holds the same local indices L only loads the links
/// of those GPUs, their NICs and rails L: groups with disjoint L never share a link, and a class of groups (those on
/// the same L) whose L is a shift of another class's, with the same groups on the same nodes, loads an isomorphic
/// set of links with the same rates. So one class per distinct (pattern, groups' nodes) suffices, e.g. 1 of the 8
/// rail-aligned copies of the DP groups when tp = 8. Anything less regular enumerates every group.
std::vector<char> rail_representatives(const GroupSet& set, const LinkLayout& layout) {
  std::vector<char> all(set.groups.size(), 1);
  // Without rails, groups on different local indices meet in the leaves' uplinks: every group counts.
  if (layout.nics_per_node != layout.gpus_per_node || !layout.rail_optimized()) return all;
  std::vector<std::int64_t> owner(static_cast<std::size_t>(layout.gpus_per_node), -1);  // local -> class
  std::vector<std::size_t> class_first;  // per class: its first group
  std::vector<std::size_t> class_of(set.groups.size());
  for (std::size_t gi = 0; gi < set.groups.size(); ++gi) {
    const auto& g = set.groups[gi];
    if (!same_locals_on_every_node(set, g, layout)) return all;
    // The class is named by its lowest local index; its members must all belong to it alone.
    const std::int64_t* first = set.block(g.first_block);
    std::int64_t& cls = owner[static_cast<std::size_t>(layout.local_of(first[0]))];
    if (cls < 0) {
      cls = static_cast<std::int64_t>(class_first.size());
      class_first.push_back(gi);
      for (std::int64_t i = 1; i < set.size(g.first_block); ++i)
        if (std::exchange(owner[static_cast<std::size_t>(layout.local_of(first[i]))], cls) >= 0) return all;
    } else if (!same_pattern(set, set.groups[class_first[static_cast<std::size_t>(cls)]], g, layout, true)) {
      return all;  // the same class must hold exactly the same local indices
    }
    class_of[gi] = static_cast<std::size_t>(cls);
  }
  const std::vector<char> keep_class = distinct_classes(set, layout, class_of, class_first);
  for (std::size_t gi = 0; gi < set.groups.size(); ++gi) all[gi] = keep_class[class_of[gi]];
  return all;
}

}  // namespace

GroupSet flatten(const std::vector<std::vector<std::int64_t>>& groups, const LinkLayout& layout, Collective op) {
  const std::int64_t total = layout.nodes * layout.gpus_per_node;
  const bool pairs = op == Collective::send_recv;
  GroupSet set;
  std::size_t count = 0;
  for (const auto& g : groups) count += g.size();
  set.ranks.reserve(count);
  set.block_start.reserve(count + groups.size());
  set.groups.reserve(groups.size());
  for (const auto& g : groups) {
    if (g.size() <= 1) continue;
    if (pairs && g.size() != 2)
      throw std::invalid_argument("send_recv takes groups of 2 ranks (sender, receiver), got " +
                                  std::to_string(g.size()));
    const std::size_t first = set.ranks.size();
    append_ranks(set, g, total, pairs);
    set.groups.push_back(append_blocks(set, first, layout, pairs));
  }
  return set;
}

std::vector<char> representatives(const GroupSet& set, const LinkLayout& layout) {
  if (auto keep = node_representatives(set, layout); !keep.empty()) return keep;
  return rail_representatives(set, layout);
}

}  // namespace hpsim::costs::detail
