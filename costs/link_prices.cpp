#include "costs/link_prices.hpp"

namespace hpsim::costs {

using topologies::LinkClass;

LinkPrices nominal_link_prices(const topologies::LinkGraph& graph, const topologies::ClusterSpec& cluster) {
  const auto& links = graph.links();
  LinkPrices prices;
  prices.seconds_per_byte.resize(links.size());
  for (std::size_t i = 0; i < links.size(); ++i) {
    const double eff = links[i].link_class == LinkClass::nvlink ? cluster.intra_node_efficiency
                                                                : cluster.inter_node_efficiency;
    prices.seconds_per_byte[i] = 1.0 / (links[i].bandwidth.value() * eff);
  }
  prices.intra_node_step_s = cluster.intra_node_latency.value();
  prices.inter_node_step_s = cluster.inter_node_latency.value();
  return prices;
}

LinkPrices fitted_link_prices(const LinkPrices& nominal, const topologies::LinkGraph& graph,
                              const topologies::ClusterSpec& cluster, const topologies::LinkFit& fit) {
  LinkPrices prices = nominal;
  // The same conversions as the intra-node link read from the all-reduce fit: equal fits price equally.
  const double nvlink_seconds_per_byte =
      1.0 / (core::gbyte_per_s(fit.bandwidth_gbyte_per_s).value() * cluster.intra_node_efficiency);
  const auto& links = graph.links();
  for (std::size_t i = 0; i < links.size(); ++i)
    if (links[i].link_class == LinkClass::nvlink) prices.seconds_per_byte[i] = nvlink_seconds_per_byte;
  prices.intra_node_step_s = core::microseconds(fit.latency_us).value();
  return prices;
}

}  // namespace hpsim::costs
