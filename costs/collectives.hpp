#pragma once
/// Collective communication cost over groups of ranks placed on the cluster's link graph (its routes): priced here,
/// beside the compute cost, from the topology that topologies/ describes.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/units.hpp"
#include "costs/link_prices.hpp"
#include "topologies/cluster_spec.hpp"
#include "topologies/link_graph.hpp"

namespace hpsim::costs {

enum class Collective { all_reduce, all_gather, reduce_scatter, all_to_all, broadcast, send_recv };
inline constexpr std::size_t kCollectiveCount = 6;
enum class Algorithm { automatic, ring, tree, hierarchical, nvls };
std::string to_string(Collective c);
std::string to_string(Algorithm a);

/// time(bytes) = latency + bytes / bandwidth for one algorithm on one set of groups (NCCL's closed form).
struct CollectiveModel {
  Algorithm algorithm = Algorithm::ring;
  core::Seconds latency;
  core::BytesPerSecond bandwidth;  ///< algorithm bandwidth: bytes / (time - latency)
  [[nodiscard]] core::Seconds time(core::Bytes bytes) const { return latency + bytes / bandwidth; }
};

/// A route the coster used: the pair, the NIC it asked for (-1: the source's nearest) and the route's links.
struct UsedRoute {
  std::int64_t src = 0, dst = 0, nic = -1;
  std::vector<topologies::RouteHop> hops;
};
using RouteTrace = std::vector<UsedRoute>;

/// Costs collectives by routing the point-to-point transfers each algorithm makes and loading the links they cross.
/// A cluster with a calibration block prices all-gather, reduce-scatter and all-to-all by their ring fits and
/// send/recv by its fit where the block has them (inside a node: the fit's bandwidth and per-step latency); the
/// all-reduce fit is the cluster's intra-node link itself, which every other collective uses.
/// Ranks are global GPU indices: node * gpus_per_node + local index. `bytes` follows nccl-tests: the whole buffer
/// for all-reduce / broadcast / send-recv, the whole gathered output for all-gather, the whole input for
/// reduce-scatter, the whole send buffer per rank for all-to-all.
class CollectiveCoster {
 public:
  explicit CollectiveCoster(const topologies::ClusterSpec& cluster);

  /// Models of every algorithm that applies, when all `groups` run `op` at the same time and share links.
  /// Groups of size 1 cost nothing (when all are, one ring model of zero latency and infinite bandwidth).
  /// send_recv takes groups of exactly 2 ranks (sender, receiver); it and all_to_all have one algorithm,
  /// reported as ring. tree and hierarchical apply to all_reduce over groups that span nodes; nvls to all_reduce
  /// over groups of more than 4 ranks inside one node, on a cluster whose switch reduces (nvls_efficiency > 0).
  [[nodiscard]] std::vector<CollectiveModel> models(Collective op,
                                                    const std::vector<std::vector<std::int64_t>>& groups) const;
  /// Every route models() takes for these groups (for checks: each must be a path of the graph).
  [[nodiscard]] RouteTrace routes_used(Collective op, const std::vector<std::vector<std::int64_t>>& groups) const;
  /// The fastest (or the named) algorithm's time for the slowest of the concurrent groups. Naming an algorithm
  /// that does not apply is an InputError (field "algorithm").
  [[nodiscard]] core::Seconds time(Collective op, core::Bytes bytes,
                                   const std::vector<std::vector<std::int64_t>>& groups,
                                   Algorithm algorithm = Algorithm::automatic) const;
  /// One group alone.
  [[nodiscard]] core::Seconds time(Collective op, core::Bytes bytes, std::span<const std::int64_t> group,
                                   Algorithm algorithm = Algorithm::automatic) const;

  /// Gradient aggregation through `servers` parameter servers per group, co-located on group members spread
  /// evenly over it: every worker pushes 1/servers of its `bytes` to each server, then pulls the updated share
  /// back (push, then pull: their times add). A what-if beside all-reduce.
  [[nodiscard]] CollectiveModel parameter_server_model(const std::vector<std::vector<std::int64_t>>& groups,
                                                       std::int64_t servers) const;

  [[nodiscard]] const topologies::LinkGraph& graph() const { return graph_; }
  [[nodiscard]] const topologies::ClusterSpec& cluster() const { return cluster_; }

 private:
  topologies::ClusterSpec cluster_;
  topologies::LinkGraph graph_;
  LinkPrices nominal_;
  std::array<std::optional<LinkPrices>, kCollectiveCount> fitted_;  ///< per Collective, where a calibration fits it
  [[nodiscard]] const LinkPrices& prices(Collective op) const;
  [[nodiscard]] std::vector<CollectiveModel> models(Collective op, const std::vector<std::vector<std::int64_t>>& groups,
                                                    RouteTrace* trace) const;
};

}  // namespace hpsim::costs
