#include <doctest/doctest.h>

#include "costs/collectives.hpp"

using namespace hpsim;
using namespace hpsim::topologies;
using namespace hpsim::costs;

TEST_CASE("parameter server: one server on its own node is bound by its NIC, push plus pull") {
  // 4 GPUs, one per node (local index 0, one rail): the server (first member) receives 3 shares of S over its HDR
  // NIC, then sends them back: 2 * 3 * S / (25 GB/s * 0.96).
  const auto cluster = load_cluster("dgx-a100-80gb:4");
  const CollectiveCoster coster(cluster);
  const std::vector<std::vector<std::int64_t>> group{{0, 8, 16, 24}};
  const auto model = coster.parameter_server_model(group, 1);
  const double s = 1e9;
  const double nic = 25e9 * cluster.inter_node_efficiency;
  CHECK((model.time(core::Bytes(s)) - model.latency).value() == doctest::Approx(2 * 3 * s / nic).epsilon(1e-9));
}

TEST_CASE("parameter server: more servers spread the load; all-reduce beats a single server") {
  const CollectiveCoster coster(load_cluster("dgx-a100-80gb:8"));
  const std::vector<std::vector<std::int64_t>> group{{0, 8, 16, 24, 32, 40, 48, 56}};
  const core::Bytes s(1e9);
  const auto one = coster.parameter_server_model(group, 1).time(s);
  const auto four = coster.parameter_server_model(group, 4).time(s);
  const auto eight = coster.parameter_server_model(group, 8).time(s);
  CHECK(four < one);
  CHECK(eight < four);
  CHECK(coster.time(Collective::all_reduce, s, group) < one);
}
