/// Collective cost from the link graph: each algorithm's point-to-point transfers are routed, the bytes they put
/// on every directed link are summed over all concurrent groups, and the busiest link sets the bandwidth term.
#include "costs/collectives.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "core/error.hpp"
#include "costs/group_set.hpp"
#include "costs/link_loads.hpp"
#include "costs/transfers.hpp"

namespace hpsim::costs {

using namespace topologies;  // the cluster, its link graph and routes
using detail::GroupSet;
using detail::LinkLoads;

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
    case Algorithm::nvls: return "nvls";
  }
  return "unknown";
}

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
/// The most ranks of a one-node all-reduce that NCCL still runs as a ring, NVLS or not (see all_nvls_groups).
constexpr double kNvlsMaxRingRanks = 4;
/// Latency of one level of NCCL's inter-node tree, each way, for the large messages a gradient reduction sends
/// (SIMPLE protocol: a level forwards a whole chunk before the next starts). Read off NVIDIA's all_reduce NVLSTree
/// scan on DGX H100 SuperPODs (GTC24 S62129 slide, stas00/ml-engineering network/images/
/// nccl-all-reduce-scan-nvlstree.png; docs REFERENCE-HOPPER 4b): with the 16 GB busbw (~375 GB/s) as bandwidth,
/// the 16 MB and 256 MB points leave ~0.16-0.25 ms at 32 GPUs (4 nodes, 2 levels) and ~0.9 ms at 8192 GPUs (1024
/// nodes, 10 levels) of latency: 2 x levels x ~45 us at both ends. A network step of a ring stays far shorter.
constexpr double kTreeLevelLatencyS = 45e-6;

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
      : set_(set),
        layout_(layout),
        loads_(loads),
        keep_(detail::representatives(set, layout)),
        alpha_intra_(alpha_intra_s),
        alpha_inter_(alpha_inter_s) {}

  /// Ring all-reduce (2(n-1) steps), all-gather or reduce-scatter (n-1 steps), or a chained broadcast.
  CollectiveModel ring(Collective op) {
    const bool reduce = op == Collective::all_reduce, chain = op == Collective::broadcast;
    auto steps_of = [&](const GroupSet::Group& g) { return reduce ? 2 * (ranks_of(g) - 1) : ranks_of(g) - 1; };
    double latency = 0;
    for (const auto& g : set_.groups) latency = std::max(latency, steps_of(g) * alpha(g));
    each([&](const GroupSet::Group& g) {
      const double factor = chain ? 1.0 : steps_of(g) / ranks_of(g);  // 2(n-1)/n, (n-1)/n, or S per hop
      detail::ring_transfers(set_, g, layout_, factor, !chain, loads_);
    });
    return model(Algorithm::ring, latency, loads_.drain());
  }

  /// Double binary tree across nodes (NCCL's tree), for groups that all span nodes.
  CollectiveModel tree() {
    double latency = 0;
    each([&](const GroupSet::Group& g) { detail::tree_transfers(set_, g, loads_); });
    for (const auto& g : set_.groups)
      latency = std::max(latency, 2.0 * static_cast<double>(ceil_log2(g.node_count())) * tree_level() +
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
      detail::intra_ring_transfers(set_, g, (c - 1) / c, loads_);
    });
    double seconds = 2 * loads_.drain();  // reduce-scatter, and the same again for the all-gather
    each([&](const GroupSet::Group& g) { detail::inter_ring_transfers(set_, g, loads_); });
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

  /// NVLink SHARP inside one node: every GPU sends its buffer into the switch once and reads the sum back once, so
  /// the time is the buffer over the per-GPU NVLS rate, whatever the group's size (busbw 414..473 GB/s at 5..8 H100
  /// or H200 GPUs is a near-constant 259..270 GB/s of algorithm bandwidth, stas00/ml-engineering@744d01e
  /// network/README.md). Groups on one node are never copies of each other's links: each GPU is in one group.
  CollectiveModel nvls(double gpu_bytes_per_s, double latency_s) const {
    return model(Algorithm::nvls, latency_s, 1.0 / gpu_bytes_per_s);
  }
  /// NCCL uses NVLS for an all-reduce inside one node above 4 GPUs (NCCL_DEBUG=TUNING on 8x H200; at 4 GPUs the
  /// ring's busbw, 363 GB/s, is what it gets: stas00/ml-engineering@744d01e network/README.md).
  [[nodiscard]] bool all_nvls_groups() const {
    return std::all_of(set_.groups.begin(), set_.groups.end(), [&](const GroupSet::Group& g) {
      return g.node_count() == 1 && ranks_of(g) > kNvlsMaxRingRanks;
    });
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
  /// One level of the inter-node tree: never shorter than a network step of the cluster's own.
  [[nodiscard]] double tree_level() const { return std::max(alpha_inter_, kTreeLevelLatencyS); }
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
  const GroupSet set = detail::flatten(groups, layout, op);
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
  if (cluster_.nvls_efficiency > 0 && price.all_nvls_groups())
    out.push_back(price.nvls(cluster_.intra_node_bandwidth.value() * cluster_.nvls_efficiency,
                             cluster_.nvls_latency.value()));
  if (!price.all_span_nodes()) return out;
  out.push_back(price.tree());
  if (price.uniform_per_node()) out.push_back(price.hierarchical());
  return out;
}

CollectiveModel CollectiveCoster::parameter_server_model(const std::vector<std::vector<std::int64_t>>& groups,
                                                        std::int64_t servers) const {
  const LinkLayout& layout = graph_.layout();
  const GroupSet set = detail::flatten(groups, layout, Collective::all_to_all);
  if (set.groups.empty() || servers <= 0) return CollectiveModel{Algorithm::ring, core::Seconds(0), core::BytesPerSecond(kInfinity)};
  LinkLoads loads(layout, nominal_.seconds_per_byte, nullptr);
  const std::vector<char> keep = detail::representatives(set, layout);
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
                                                  "same number (> 1) of members on every node; nvls needs "
                                                  "all-reduce groups of more than 4 inside one node on a switch "
                                                  "that reduces)");
  }
  return *best;
}

core::Seconds CollectiveCoster::time(Collective op, core::Bytes bytes, std::span<const std::int64_t> group,
                                     Algorithm algorithm) const {
  const std::vector<std::vector<std::int64_t>> groups{std::vector<std::int64_t>(group.begin(), group.end())};
  return time(op, bytes, groups, algorithm);
}

}  // namespace hpsim::costs
