#pragma once
/// What a byte and a step cost on each link of the graph, for one collective: the cluster's nominal prices, or, for a
/// collective a calibration fitted, the fit's bandwidth on the intra-node links and its per-step latency inside a node.
#include <optional>
#include <vector>

#include "topologies/calibration.hpp"
#include "topologies/cluster_spec.hpp"
#include "topologies/link_graph.hpp"

namespace hpsim::costs {

struct LinkPrices {
  std::vector<double> seconds_per_byte;  ///< per link: 1 / (rate · efficiency of its class)
  double intra_node_step_s = 0;          ///< latency of one algorithm step inside a node
  double inter_node_step_s = 0;          ///< latency of one algorithm step over the network
};

/// The cluster's links at their rates and efficiencies, its per-step latencies.
LinkPrices nominal_link_prices(const topologies::LinkGraph& graph, const topologies::ClusterSpec& cluster);
/// `nominal` with the NVLink-class links at `fit`'s bandwidth (times the cluster's intra-node efficiency, as the
/// all-reduce fit that sets the intra-node link gets it) and `fit`'s latency per step inside a node. A calibration
/// measures one node: the network keeps its nominal prices.
LinkPrices fitted_link_prices(const LinkPrices& nominal, const topologies::LinkGraph& graph,
                              const topologies::ClusterSpec& cluster, const topologies::LinkFit& fit);

}  // namespace hpsim::costs
