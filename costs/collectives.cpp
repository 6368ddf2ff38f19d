/// Collective cost from the link graph: each algorithm's point-to-point transfers are routed, the bytes they put
/// on every directed link are summed over all concurrent groups, and the busiest link sets the bandwidth term.
#include "costs/collectives.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "core/error.hpp"

namespace hpsim::costs {

using namespace topologies;  // the cluster, its link graph and routes

std::string to_string(Collective c) {
  switch (c) {
    case Collective::all_reduce: return "all_reduce";
    case Collective::all_gather: return "all_gather";
    case Collective::reduce_scatter: return "reduce_scatter";
    case Collective::all_to_all: return "all_to_all";
    case Collective::broadcast: return "broadcast";
    case Collective::send_recv: return "send_recv";
  }
  return "unknown";
}

std::string to_string(Algorithm a) {
  switch (a) {
    case Algorithm::automatic: return "automatic";
    case Algorithm::ring: return "ring";
    case Algorithm::tree: return "tree";
    case Algorithm::hierarchical: return "hierarchical";
  }
  return "unknown";
}

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

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
  [[nodiscard]] const std::int64_t* block(std::int64_t b) const {
    return ranks.data() + begin(b);
  }
  [[nodiscard]] std::int64_t rank(std::int64_t block, std::int64_t i) const {
    return ranks[static_cast<std::size_t>(begin(block) + i)];
  }
};

GroupSet flatten(const std::vector<std::vector<std::int64_t>>& groups, const LinkLayout& layout, Collective op) {
  const std::int64_t total = layout.nodes * layout.gpus_per_node;
  GroupSet set;
  std::size_t count = 0;
  for (const auto& g : groups) count += g.size();
  set.ranks.reserve(count);
  set.block_start.reserve(count + groups.size());
  for (const auto& g : groups) {
    if (g.size() <= 1) continue;
    if (op == Collective::send_recv && g.size() != 2)
      throw std::invalid_argument("send_recv takes groups of 2 ranks (sender, receiver), got " +
                                  std::to_string(g.size()));
    const std::size_t first = set.ranks.size();
    for (const std::int64_t r : g) {
      if (r < 0 || r >= total)
        throw std::out_of_range("collective group: rank " + std::to_string(r) + " outside the cluster of " +
                                std::to_string(total) + " GPUs");
      set.ranks.push_back(r);
    }
    // send_recv keeps (sender, receiver); the other collectives order ranks by node, as NCCL's rings do.
    if (op != Collective::send_recv &&
        !std::is_sorted(set.ranks.begin() + static_cast<std::ptrdiff_t>(first), set.ranks.end()))
      std::sort(set.ranks.begin() + static_cast<std::ptrdiff_t>(first), set.ranks.end());
    GroupSet::Group info;
    info.first_block = static_cast<std::int64_t>(set.block_start.size());
    info.min_per_node = std::numeric_limits<std::int64_t>::max();
    std::int64_t previous_node = -1;
    for (std::size_t i = first; i < set.ranks.size(); ++i) {
      const std::int64_t node = layout.node_of(set.ranks[i]);
      if (node != previous_node || op == Collective::send_recv) set.block_start.push_back(static_cast<std::int64_t>(i));
      previous_node = node;
    }
    info.last_block = static_cast<std::int64_t>(set.block_start.size());
    set.block_start.push_back(static_cast<std::int64_t>(set.ranks.size()));  // sentinel
    for (std::int64_t b = info.first_block; b < info.last_block; ++b) {
      info.min_per_node = std::min(info.min_per_node, set.size(b));
      info.max_per_node = std::max(info.max_per_node, set.size(b));
    }
    set.groups.push_back(info);
  }
  return set;
}

/// Bytes per directed link for one phase, summed over the concurrent groups. Scratch for one models() call.
class LinkLoads {
 public:
  LinkLoads(const LinkLayout& layout, const std::vector<double>& seconds_per_byte, RouteTrace* trace)
      : layout_(layout),
        seconds_per_byte_(seconds_per_byte),
        bytes_(seconds_per_byte.size(), 0.0),
        path_(static_cast<std::size_t>(layout.max_route_hops())),
        trace_(trace) {}

  /// `bytes` from `src` to `dst`, leaving the node through NIC `nic` (-1: the source's nearest), spread over the
  /// route's links as ECMP spreads them.
  void send(std::int64_t src, std::int64_t dst, double bytes, std::int64_t nic = -1) {
    const int n = route(src, dst, nic);
    for (int i = 0; i < n; ++i) add(path_[static_cast<std::size_t>(i)].link, bytes * path_[static_cast<std::size_t>(i)].fraction);
  }

  /// `bytes` each way between `a` and `b` over the same links (the way back is the way there reversed: link pairs
  /// are numbered (2i, 2i+1), so one route serves both directions).
  void exchange(std::int64_t a, std::int64_t b, double bytes, std::int64_t nic = -1) {
    const int n = route(a, b, nic);
    for (int i = 0; i < n; ++i) {
      const RouteHop& h = path_[static_cast<std::size_t>(i)];
      add(h.link, bytes * h.fraction);
      add(h.link ^ 1, bytes * h.fraction);
    }
  }

  /// Seconds the busiest link needs for what was sent; clears the loads.
  double drain() {
    double worst = 0.0;
    for (const std::int64_t l : touched_) {
      const auto i = static_cast<std::size_t>(l);
      worst = std::max(worst, bytes_[i] * seconds_per_byte_[i]);
      bytes_[i] = 0.0;
    }
    touched_.clear();
    return worst;
  }

 private:
  int route(std::int64_t src, std::int64_t dst, std::int64_t nic) {
    const int n = layout_.route(src, dst, nic, path_.data());
    if (trace_ != nullptr) trace_->push_back({src, dst, nic, {path_.begin(), path_.begin() + n}});
    return n;
  }
  void add(std::int64_t link, double bytes) {
    double& b = bytes_[static_cast<std::size_t>(link)];
    if (b == 0.0) touched_.push_back(link);
    b += bytes;
  }

  const LinkLayout& layout_;
  const std::vector<double>& seconds_per_byte_;
  std::vector<double> bytes_;
  std::vector<std::int64_t> touched_;
  std::vector<RouteHop> path_;
  RouteTrace* trace_;
};

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

/// Ring over the group's blocks (NCCL rings): inside a node consecutive ranks over NVSwitch; across nodes, c
/// channels (c = fewest members on a node), channel j entering each node at its member j and leaving through
/// that member's NIC, so a full node's 8 members use its 8 NICs. Each rank sends `factor`·S per channel's share.
/// `closed` = false leaves out the hop back to the start (pipelined chain, broadcast).
void ring_transfers(const GroupSet& set, const GroupSet::Group& g, const LinkLayout& layout, double factor,
                    bool closed, LinkLoads& loads) {
  const std::int64_t nodes = g.node_count();
  const std::int64_t channels = nodes == 1 ? 1 : g.min_per_node;
  const double share = factor / static_cast<double>(channels);
  for (std::int64_t j = 0; j < channels; ++j) {
    for (std::int64_t b = 0; b < nodes; ++b) {
      const std::int64_t block = g.first_block + b;
      const std::int64_t* r = set.block(block);
      const std::int64_t cnt = set.size(block);
      const std::int64_t start = j % cnt;
      const std::int64_t at = chain(cnt, start, [&](std::int64_t x, std::int64_t y) { loads.send(r[x], r[y], share); });
      if (!closed && b == nodes - 1) continue;
      const std::int64_t next_block = b + 1 == nodes ? g.first_block : block + 1;
      const std::int64_t entry = set.block(next_block)[j % set.size(next_block)];
      // On rails the channel stays on its entry member's rail (PXN); without rails the sender's own NIC is as near.
      loads.send(r[at], entry, share, layout.rail_optimized() ? layout.nic_of(layout.local_of(r[start])) : -1);
    }
  }
}

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
  for (std::int64_t j = 0; j < channels; ++j) {
    for (std::int64_t b = 0; b < nodes; ++b) {
      const std::int64_t block = g.first_block + b;
      const std::int64_t* r = set.block(block);
      const std::int64_t cnt = set.size(block);
      const std::int64_t start = j % cnt;
      // Reduce towards the head, broadcast back.
      const std::int64_t at =
          chain(cnt, start, [&](std::int64_t x, std::int64_t y) { loads.exchange(r[x], r[y], share); });
      for (int tree = 0; tree < 2; ++tree) {
        const std::int64_t parent = parents[static_cast<std::size_t>(2 * b + tree)];
        if (parent < 0) continue;
        const std::int64_t pblock = g.first_block + parent;
        const std::int64_t phead = set.block(pblock)[j % set.size(pblock)];
        loads.exchange(r[start], phead, share / 2);  // through the child's NIC both ways
      }
    }
  }
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

/// Which groups need their transfers enumerated. With one NIC per GPU on a rail-optimized fabric (every rail its
/// own plane of leaves, spines and cores), a group whose every node holds the same local indices L only loads the
/// links of those GPUs, their NICs and rails L: groups with disjoint L never share a link, and a class of groups whose L is a shift of another class's (same nodes, same pattern) loads
/// an isomorphic set of links with the same rates. So one class per distinct (pattern, nodes) suffices, e.g.
/// 1 of the 8 rail-aligned copies of the DP groups when tp = 8. Anything less regular enumerates every group.
std::vector<char> representatives(const GroupSet& set, const LinkLayout& layout) {
  std::vector<char> all(set.groups.size(), 1);
  // Without rails, groups on different local indices meet in the leaves' uplinks: every group counts.
  if (layout.nics_per_node != layout.gpus_per_node || !layout.rail_optimized()) return all;
  std::vector<std::int64_t> owner(static_cast<std::size_t>(layout.gpus_per_node), -1);  // local -> class
  std::vector<std::vector<std::int64_t>> signatures;  // per class: pattern, then each group's nodes
  std::vector<std::int64_t> class_of(set.groups.size());
  for (std::size_t gi = 0; gi < set.groups.size(); ++gi) {
    const auto& g = set.groups[gi];
    const std::int64_t cnt = set.size(g.first_block);
    const std::int64_t* first = set.block(g.first_block);
    for (std::int64_t b = g.first_block; b < g.last_block; ++b) {
      if (set.size(b) != cnt) return all;
      const std::int64_t* r = set.block(b);
      for (std::int64_t i = 0; i < cnt; ++i)
        if (layout.local_of(r[i]) != layout.local_of(first[i])) return all;
    }
    // The class is named by its lowest local index; its members must all belong to it alone.
    const std::int64_t base = layout.local_of(first[0]);
    std::int64_t cls = owner[static_cast<std::size_t>(base)];
    if (cls < 0) {
      cls = static_cast<std::int64_t>(signatures.size());
      std::vector<std::int64_t> pattern;
      for (std::int64_t i = 0; i < cnt; ++i) {
        auto& o = owner[static_cast<std::size_t>(layout.local_of(first[i]))];
        if (o >= 0) return all;  // overlaps another class
        o = cls;
        pattern.push_back(layout.local_of(first[i]) - base);
      }
      pattern.push_back(-1);
      signatures.push_back(std::move(pattern));
    } else {
      // Same class: exactly the same local indices.
      const auto& sig = signatures[static_cast<std::size_t>(cls)];
      if (static_cast<std::int64_t>(sig.size()) < cnt + 1 || sig[static_cast<std::size_t>(cnt)] != -1) return all;
      for (std::int64_t i = 0; i < cnt; ++i)
        if (layout.local_of(first[i]) - base != sig[static_cast<std::size_t>(i)]) return all;
    }
    auto& sig = signatures[static_cast<std::size_t>(cls)];
    sig.push_back(g.node_count());
    for (std::int64_t b = g.first_block; b < g.last_block; ++b) sig.push_back(layout.node_of(*set.block(b)));
    class_of[gi] = cls;
  }
  // Keep the first class of each distinct signature.
  std::vector<char> keep_class(signatures.size(), 1);
  for (std::size_t a = 0; a < signatures.size(); ++a)
    for (std::size_t b = 0; b < a && keep_class[a]; ++b)
      if (keep_class[b] && signatures[a] == signatures[b]) keep_class[a] = 0;
  for (std::size_t gi = 0; gi < set.groups.size(); ++gi) all[gi] = keep_class[static_cast<std::size_t>(class_of[gi])];
  return all;
}

std::int64_t ceil_log2(std::int64_t n) {
  std::int64_t bits = 0;
  while ((std::int64_t{1} << bits) < n) ++bits;
  return bits;
}

/// The calibration's fit for `op`, if it has one: a collective's ring fit (all-reduce's is the intra-node link
/// already), send/recv's own.
std::optional<LinkFit> calibrated_fit(const Calibration& c, Collective op) {
  if (op == Collective::send_recv) return c.send_recv;
  if (op != Collective::all_gather && op != Collective::reduce_scatter && op != Collective::all_to_all) return {};
  const auto fits = c.collectives.find(to_string(op));
  if (fits == c.collectives.end()) return {};
  const auto ring = fits->second.find("ring");
  return ring == fits->second.end() ? std::nullopt : std::optional<LinkFit>(ring->second);
}

}  // namespace

CollectiveCoster::CollectiveCoster(const ClusterSpec& cluster)
    : cluster_(cluster), graph_(cluster), nominal_(nominal_link_prices(graph_, cluster_)) {
  if (!cluster_.calibration) return;
  for (std::size_t i = 0; i < kCollectiveCount; ++i)
    if (const auto fit = calibrated_fit(*cluster_.calibration, static_cast<Collective>(i)))
      fitted_[i] = fitted_link_prices(nominal_, graph_, cluster_, *fit);
}

const LinkPrices& CollectiveCoster::prices(Collective op) const {
  const auto& fitted = fitted_[static_cast<std::size_t>(op)];
  return fitted ? *fitted : nominal_;
}

std::vector<CollectiveModel> CollectiveCoster::models(Collective op,
                                                      const std::vector<std::vector<std::int64_t>>& groups) const {
  return models(op, groups, nullptr);
}

RouteTrace CollectiveCoster::routes_used(Collective op, const std::vector<std::vector<std::int64_t>>& groups) const {
  RouteTrace trace;
  (void)models(op, groups, &trace);
  return trace;
}

namespace {

/// Prices one collective over a set of concurrent groups, algorithm by algorithm: latencies from every group (the
/// slowest counts), transfers from the representative groups' link loads.
class AlgorithmPricing {
 public:
  AlgorithmPricing(const GroupSet& set, const LinkLayout& layout, LinkLoads& loads, double alpha_intra_s,
                   double alpha_inter_s)
      : set_(set), layout_(layout), loads_(loads), keep_(representatives(set, layout)), alpha_intra_(alpha_intra_s),
        alpha_inter_(alpha_inter_s) {}

  /// Ring all-reduce (2(n-1) steps), all-gather or reduce-scatter (n-1 steps), or a chained broadcast.
  CollectiveModel ring(Collective op) {
    const bool reduce = op == Collective::all_reduce, chain = op == Collective::broadcast;
    auto steps_of = [&](const GroupSet::Group& g) { return reduce ? 2 * (ranks_of(g) - 1) : ranks_of(g) - 1; };
    double latency = 0;
    for (const auto& g : set_.groups) latency = std::max(latency, steps_of(g) * alpha(g));
    each([&](const GroupSet::Group& g) {
      const double factor = chain ? 1.0 : steps_of(g) / ranks_of(g);  // 2(n-1)/n, (n-1)/n, or S per hop
      ring_transfers(set_, g, layout_, factor, !chain, loads_);
    });
    return model(Algorithm::ring, latency, loads_.drain());
  }

  /// Double binary tree across nodes (NCCL's tree), for groups that all span nodes.
  CollectiveModel tree() {
    double latency = 0;
    each([&](const GroupSet::Group& g) { tree_transfers(set_, g, loads_); });
    for (const auto& g : set_.groups)
      latency = std::max(latency, 2.0 * static_cast<double>(ceil_log2(g.node_count())) * alpha_inter_ +
                                      2.0 * static_cast<double>(g.max_per_node - 1) * alpha_intra_);
    return model(Algorithm::tree, latency, loads_.drain());
  }

  /// Reduce-scatter inside nodes, all-reduce across them, all-gather inside: the phases run one after the other.
  CollectiveModel hierarchical() {
    double latency = 0;
    for (const auto& g : set_.groups) {
      const double c = static_cast<double>(g.min_per_node), m = static_cast<double>(g.node_count());
      latency = std::max(latency, 2 * (c - 1) * alpha_intra_ + 2 * (m - 1) * alpha_inter_);
    }
    each([&](const GroupSet::Group& g) {
      const double c = static_cast<double>(g.min_per_node);
      intra_ring_transfers(set_, g, (c - 1) / c, loads_);
    });
    double seconds = 2 * loads_.drain();  // reduce-scatter, and the same again for the all-gather
    each([&](const GroupSet::Group& g) { inter_ring_transfers(set_, g, loads_); });
    seconds += loads_.drain();
    return model(Algorithm::hierarchical, latency, seconds);
  }

  /// Every member sends 1/n of its data to every other: a step per peer.
  CollectiveModel all_to_all() {
    double latency = 0;
    for (const auto& g : set_.groups) latency = std::max(latency, (ranks_of(g) - 1) * alpha(g));
    each([&](const GroupSet::Group& g) {
      const std::int64_t* r = set_.block(g.first_block);
      const std::int64_t n = set_.begin(g.last_block) - set_.begin(g.first_block);
      const double share = 1.0 / static_cast<double>(n);
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < n; ++j)
          if (i != j) loads_.send(r[i], r[j], share);
    });
    return model(Algorithm::ring, latency, loads_.drain());
  }

  CollectiveModel send_recv() {
    double latency = 0;
    for (const auto& g : set_.groups) latency = std::max(latency, alpha(g));
    each([&](const GroupSet::Group& g) { loads_.send(*set_.block(g.first_block), *set_.block(g.first_block + 1), 1.0); });
    return model(Algorithm::ring, latency, loads_.drain());
  }

  [[nodiscard]] bool all_span_nodes() const {
    return std::all_of(set_.groups.begin(), set_.groups.end(), [](const GroupSet::Group& g) { return g.node_count() > 1; });
  }
  [[nodiscard]] bool uniform_per_node() const {
    return std::all_of(set_.groups.begin(), set_.groups.end(), [](const GroupSet::Group& g) {
      return g.min_per_node == g.max_per_node && g.min_per_node > 1;
    });
  }

 private:
  /// The latency of one step: network when the group spans nodes.
  [[nodiscard]] double alpha(const GroupSet::Group& g) const {
    const std::int64_t first = set_.ranks[static_cast<std::size_t>(set_.begin(g.first_block))];
    const std::int64_t last = set_.ranks[static_cast<std::size_t>(set_.begin(g.last_block) - 1)];
    return layout_.node_of(first) != layout_.node_of(last) ? alpha_inter_ : alpha_intra_;
  }
  [[nodiscard]] double ranks_of(const GroupSet::Group& g) const {
    return static_cast<double>(set_.begin(g.last_block) - set_.begin(g.first_block));
  }
  /// Transfers only from the groups whose loads are not copies of others'.
  template <typename F>
  void each(F&& f) const {
    for (std::size_t i = 0; i < set_.groups.size(); ++i)
      if (keep_[i]) f(set_.groups[i]);
  }
  static CollectiveModel model(Algorithm a, double latency_s, double seconds_per_byte) {
    return CollectiveModel{a, core::Seconds(latency_s),
                           core::BytesPerSecond(seconds_per_byte > 0 ? 1.0 / seconds_per_byte : kInfinity)};
  }

  const GroupSet& set_;
  const LinkLayout& layout_;
  LinkLoads& loads_;
  std::vector<char> keep_;
  double alpha_intra_, alpha_inter_;
};

}  // namespace

std::vector<CollectiveModel> CollectiveCoster::models(Collective op,
                                                      const std::vector<std::vector<std::int64_t>>& groups,
                                                      RouteTrace* trace) const {
  const LinkLayout& layout = graph_.layout();
  const GroupSet set = flatten(groups, layout, op);
  if (set.groups.empty())
    return {CollectiveModel{Algorithm::ring, core::Seconds(0), core::BytesPerSecond(kInfinity)}};
  const LinkPrices& priced = prices(op);
  LinkLoads loads(layout, priced.seconds_per_byte, trace);
  AlgorithmPricing price(set, layout, loads, priced.intra_node_step_s, priced.inter_node_step_s);
  switch (op) {
    case Collective::all_to_all: return {price.all_to_all()};
    case Collective::send_recv: return {price.send_recv()};
    case Collective::all_gather:
    case Collective::reduce_scatter:
    case Collective::broadcast: return {price.ring(op)};
    case Collective::all_reduce: break;
  }
  // All-reduce: ring always; the tree when every group spans nodes; hierarchical when they also have the same
  // number (> 1) of ranks on each of their nodes.
  std::vector<CollectiveModel> out = {price.ring(op)};
  if (!price.all_span_nodes()) return out;
  out.push_back(price.tree());
  if (price.uniform_per_node()) out.push_back(price.hierarchical());
  return out;
}

CollectiveModel CollectiveCoster::parameter_server_model(const std::vector<std::vector<std::int64_t>>& groups,
                                                        std::int64_t servers) const {
  const LinkLayout& layout = graph_.layout();
  const GroupSet set = flatten(groups, layout, Collective::all_to_all);
  if (set.groups.empty() || servers <= 0) return CollectiveModel{Algorithm::ring, core::Seconds(0), core::BytesPerSecond(kInfinity)};
  LinkLoads loads(layout, nominal_.seconds_per_byte, nullptr);
  const std::vector<char> keep = representatives(set, layout);
  double latency = 0;
  auto shards = [&](bool push) {
    for (std::size_t gi = 0; gi < set.groups.size(); ++gi) {
      if (!keep[gi]) continue;
      const auto& g = set.groups[gi];
      const std::int64_t* r = set.block(g.first_block);
      const std::int64_t n = set.begin(g.last_block) - set.begin(g.first_block);
      const std::int64_t s = std::min(servers, n);
      const double share = 1.0 / static_cast<double>(s);
      for (std::int64_t j = 0; j < s; ++j) {
        const std::int64_t server = r[j * n / s];
        for (std::int64_t i = 0; i < n; ++i)
          if (r[i] != server) push ? loads.send(r[i], server, share) : loads.send(server, r[i], share);
      }
    }
    return loads.drain();
  };
  for (const auto& g : set.groups) {
    const std::int64_t first = set.ranks[static_cast<std::size_t>(set.begin(g.first_block))];
    const std::int64_t last = set.ranks[static_cast<std::size_t>(set.begin(g.last_block) - 1)];
    const double alpha = layout.node_of(first) != layout.node_of(last) ? nominal_.inter_node_step_s
                                                                        : nominal_.intra_node_step_s;
    latency = std::max(latency, 2 * alpha);
  }
  const double seconds_per_byte = shards(true) + shards(false);
  return CollectiveModel{Algorithm::ring, core::Seconds(latency),
                         core::BytesPerSecond(seconds_per_byte > 0 ? 1.0 / seconds_per_byte : kInfinity)};
}

core::Seconds CollectiveCoster::time(Collective op, core::Bytes bytes,
                                     const std::vector<std::vector<std::int64_t>>& groups, Algorithm algorithm) const {
  const auto candidates = models(op, groups);
  const bool one_algorithm = op == Collective::all_to_all || op == Collective::send_recv;
  std::optional<core::Seconds> best;
  for (const auto& m : candidates) {
    if (algorithm != Algorithm::automatic && !one_algorithm && m.algorithm != algorithm) continue;
    const core::Seconds t = m.time(bytes);
    if (!best || t < *best) best = t;
  }
  if (!best) {
    // Trivial groups cost nothing whatever the algorithm.
    if (candidates.size() == 1 && candidates[0].latency.value() == 0 && std::isinf(candidates[0].bandwidth.value()))
      return core::Seconds(0);
    throw core::InputError("collective " + to_string(op), "algorithm",
                           to_string(algorithm) + " does not apply to these groups (tree and hierarchical need "
                                                  "all-reduce groups spanning nodes; hierarchical also needs the "
                                                  "same number (> 1) of members on every node)");
  }
  return *best;
}

core::Seconds CollectiveCoster::time(Collective op, core::Bytes bytes, std::span<const std::int64_t> group,
                                     Algorithm algorithm) const {
  const std::vector<std::vector<std::int64_t>> groups{std::vector<std::int64_t>(group.begin(), group.end())};
  return time(op, bytes, groups, algorithm);
}

}  // namespace hpsim::costs
