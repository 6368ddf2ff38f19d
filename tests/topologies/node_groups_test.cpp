// Mixed clusters in cluster files: node_groups, each group's GPU and links over the cluster's, and the errors of a
// bad description (exit 2 naming the field, through InputError).
#include <doctest/doctest.h>

#include <string>

#include "core/error.hpp"
#include "topologies/cluster_spec.hpp"
#include "topologies_test_util.hpp"

using namespace hpsim;
using namespace hpsim::topologies;

namespace {

using testing::write_temp;

ClusterSpec load_text(const std::string& name, const std::string& text) {
  return load_cluster(write_temp(name, text, "hpsim-node-groups-test"));
}

/// The InputError that loading `text` throws.
core::InputError error_of(const std::string& text) {
  try {
    (void)load_text("bad.yaml", text);
  } catch (const core::InputError& e) {
    return e;
  }
  FAIL("expected an InputError");
  return core::InputError("", "", "");
}

const std::string kMixed = R"(preset: dgx-h100
node_groups:
  - {nodes: 2, gpu: h100-sxm}
  - {nodes: 3, gpu: a100-80gb, intra_node_bandwidth_gbyte_per_s: 300, nic_bandwidth_gbit_per_s: 200}
)";

}  // namespace

TEST_CASE("node_groups: the groups' nodes add up, each group keeps its GPU and links, the cluster's fields hold group 0's") {
  const ClusterSpec c = load_text("mixed.yaml", kMixed);
  REQUIRE(c.mixed());
  REQUIRE(c.node_groups.size() == 2);
  CHECK(c.nodes == 5);
  CHECK(c.total_gpus() == 40);
  CHECK(c.gpu.name == "h100-sxm");
  CHECK(c.node_groups[0].gpu.name == "h100-sxm");
  CHECK(c.node_groups[1].gpu.name == "a100-80gb");
  // Group 0 takes the preset's links (DGX H100: 450 GB/s NVLink, 400 Gb/s NICs); group 1 its own.
  CHECK(c.node_groups[0].intra_node_bandwidth.value() == doctest::Approx(450e9));
  CHECK(c.node_groups[0].nic_bandwidth.value() == doctest::Approx(400e9 / 8));
  CHECK(c.node_groups[1].intra_node_bandwidth.value() == doctest::Approx(300e9));
  CHECK(c.node_groups[1].nic_bandwidth.value() == doctest::Approx(200e9 / 8));
  CHECK(c.node_groups[1].nics_per_node == 8);  // the preset's, not overridden
  // Nodes 0-1 are group 0, nodes 2-4 group 1.
  CHECK(node_group_of(c, 1) == 0);
  CHECK(node_group_of(c, 2) == 1);
  CHECK(node_group_of(c, 4) == 1);
  // Group 1's homogeneous cluster: every node an A100 node with its links, the same size and fabric.
  const ClusterSpec a100 = group_cluster(c, 1);
  CHECK_FALSE(a100.mixed());
  CHECK(a100.nodes == 5);
  CHECK(a100.gpu.name == "a100-80gb");
  CHECK(a100.nic_bandwidth.value() == doctest::Approx(200e9 / 8));
  CHECK(a100.intra_node_efficiency == c.intra_node_efficiency);
}

TEST_CASE("node_groups: one group is the homogeneous cluster, as the preset describes it") {
  const ClusterSpec one = load_text("one.yaml", "preset: dgx-h100\nnode_groups: [{nodes: 4}]\n");
  const ClusterSpec preset = load_cluster("dgx-h100:4");
  CHECK_FALSE(one.mixed());
  CHECK(one.nodes == 4);
  CHECK(one.gpu.name == preset.gpu.name);
  CHECK(one.nic_bandwidth.value() == preset.nic_bandwidth.value());
  CHECK(one.intra_node_bandwidth.value() == preset.intra_node_bandwidth.value());
}

TEST_CASE("node_groups: a bad description names the field") {
  SUBCASE("not a list") {
    const auto e = error_of("preset: dgx-h100\nnode_groups: 4\n");
    CHECK(e.field() == "node_groups");
  }
  SUBCASE("nodes beside node_groups") {
    const auto e = error_of("preset: dgx-h100\nnodes: 4\nnode_groups: [{nodes: 2}, {nodes: 2, gpu: a100-80gb}]\n");
    CHECK(e.field() == "nodes");
  }
  SUBCASE("a group without nodes") {
    const auto e = error_of("preset: dgx-h100\nnode_groups: [{nodes: 2}, {gpu: a100-80gb}]\n");
    CHECK(e.field() == "nodes");
    CHECK(std::string(e.where()).find("node_groups[1]") != std::string::npos);
  }
  SUBCASE("an unknown key in a group") {
    const auto e = error_of("preset: dgx-h100\nnode_groups: [{nodes: 2}, {nodes: 2, gpus: a100-80gb}]\n");
    CHECK(e.field() == "gpus");
  }
  SUBCASE("a non-positive NIC rate") {
    const auto e = error_of("preset: dgx-h100\nnode_groups: [{nodes: 2}, {nodes: 2, nic_bandwidth_gbit_per_s: 0}]\n");
    CHECK(e.field() == "nic_bandwidth_gbit_per_s");
  }
  SUBCASE("an unknown GPU") {
    const auto e = error_of("preset: dgx-h100\nnode_groups: [{nodes: 2}, {nodes: 2, gpu: b300}]\n");
    CHECK(e.field() == "gpu");
  }
  SUBCASE("no GPU anywhere") {
    const auto e = error_of("gpus_per_node: 8\nintra_node_bandwidth_gbyte_per_s: 450\nnic_bandwidth_gbit_per_s: 400\n"
                            "intra_node_efficiency: 0.8\ninter_node_efficiency: 0.8\nnode_groups: [{nodes: 2}]\n");
    CHECK(e.field() == "gpu");
  }
}
