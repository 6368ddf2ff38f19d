#include <doctest/doctest.h>

#include <set>
#include <stdexcept>

#include "core/error.hpp"
#include "topologies/cluster_fields.hpp"
#include "topologies/cluster_spec.hpp"
#include "topologies/preset_files.hpp"
#include "topologies_test_util.hpp"

using namespace hpsim;
using namespace hpsim::topologies;

namespace {

/// The error loading `yaml` as a cluster file gives (fails the test when it loads).
core::InputError load_error(const std::string& name, const std::string& yaml) {
  const std::string path = testing::write_temp(name, yaml, "hpsim-cluster-fields-test");
  try {
    (void)load_cluster(path);
  } catch (const core::InputError& e) {
    return e;
  }
  FAIL("expected an InputError");
  return core::InputError("", "", "");
}

/// The scalar keys of the base preset's mapping for `section`.
std::set<std::string> base_scalar_keys(const core::Fields& base) {
  std::set<std::string> keys;
  for (const auto& entry : base.node())
    if (entry.second.IsScalar()) keys.insert(entry.first.as<std::string>());
  return keys;
}

/// The keys whose table row says the base preset holds their default.
std::set<std::string> keys_from_base(ClusterSection section) {
  std::set<std::string> keys;
  for (const auto& f : cluster_field_table())
    if (f.section == section && f.default_text.empty()) keys.insert(std::string(f.key));
  return keys;
}

}  // namespace

TEST_CASE("cluster key table: the defaults it takes from the base preset are exactly the base's keys") {
  CHECK(keys_from_base(ClusterSection::cluster) == base_scalar_keys(detail::base_fields("cluster")));
  CHECK(keys_from_base(ClusterSection::gpu) == base_scalar_keys(detail::base_fields("gpu")));
  CHECK(keys_from_base(ClusterSection::gpu_efficiency) ==
        base_scalar_keys(detail::base_fields("gpu").child("efficiency")));
  CHECK(keys_from_base(ClusterSection::fabric).empty());
  CHECK(keys_from_base(ClusterSection::calibration).empty());
  // The printed default is the base's value itself.
  const std::string nodes_per_leaf = detail::base_fields("cluster").node()["nodes_per_leaf"].Scalar();
  CHECK(cluster_field_default(cluster_field(ClusterSection::cluster, "nodes_per_leaf")) ==
        nodes_per_leaf + " (base preset)");
}

TEST_CASE("cluster key table: the fabric's documented defaults are FabricSpec's") {
  const FabricSpec fabric;
  const auto text = [](std::string_view key) {
    return std::string(cluster_field(ClusterSection::fabric, key).default_text);
  };
  CHECK(text("rail_optimized") == (fabric.rail_optimized ? "true" : "false"));
  CHECK(fabric.nodes_per_pod == 0);
  CHECK(text("nodes_per_pod").find("one pod") != std::string::npos);
  CHECK(text("pod_oversubscription") == std::to_string(static_cast<int>(fabric.pod_oversubscription)));
  CHECK(text("spines") == std::to_string(fabric.spines));
  CHECK(text("cores") == std::to_string(fabric.cores));
}

TEST_CASE("cluster key table: one row per key, each with help, a value description and a default") {
  std::set<std::string> paths;
  for (const auto& f : cluster_field_table()) {
    CAPTURE(cluster_field_path(f));
    CHECK(paths.insert(cluster_field_path(f)).second);
    CHECK(!f.help.empty());
    CHECK(!cluster_field_values(f).empty());
    CHECK(!cluster_field_default(f).empty());
    CHECK(f.values.empty() == (f.value != ClusterValue::structured));
    if (f.sweepable) CHECK(f.section == ClusterSection::cluster);
  }
  CHECK_THROWS_AS((void)cluster_field(ClusterSection::fabric, "rails"), std::logic_error);
}

TEST_CASE("cluster key table: the readers reject keys without a row and values outside a row's range") {
  SUBCASE("an unknown key names the one it resembles, in every section") {
    auto e = load_error("typo.yaml", "preset: dgx-h100\nnodes_per_lef: 4\n");
    CHECK(e.field() == "nodes_per_lef");
    CHECK(std::string(e.what()).find("did you mean nodes_per_leaf?") != std::string::npos);
    e = load_error("fabric.yaml", "preset: dgx-h100\nfabric: {spine: 2}\n");
    CHECK(std::string(e.what()).find("did you mean spines?") != std::string::npos);
    e = load_error("gpu.yaml", "preset: dgx-h100\ngpu: {preset: h100-sxm, sm_cout: 4}\n");
    CHECK(std::string(e.what()).find("did you mean sm_count?") != std::string::npos);
    e = load_error("eff.yaml", "preset: dgx-h100\ngpu: {preset: h100-sxm, efficiency: {gemm_tile: 4}}\n");
    CHECK(e.field() == "gemm_tile");
  }
  SUBCASE("a range error says what the table says the key accepts") {
    const auto e = load_error("frac.yaml", "preset: dgx-h100\ngpu: {preset: h100-sxm, efficiency: "
                                           "{memory_peak_fraction: 1.5}}\n");
    CHECK(e.field() == "memory_peak_fraction");
    const auto& row = cluster_field(ClusterSection::gpu_efficiency, "memory_peak_fraction");
    CHECK(std::string(e.what()).find("expected " + cluster_field_values(row) + ", got 1.5") != std::string::npos);
    const auto over = load_error("over.yaml", "preset: dgx-h100\nfabric: {pod_oversubscription: 0.5}\n");
    CHECK(std::string(over.what()).find("expected a number >= 1, got 0.5") != std::string::npos);
  }
  SUBCASE("a description without a preset names what it misses with the row's help") {
    const auto e = load_error("noeff.yaml", "gpu: a100-80gb\nnic_bandwidth_gbit_per_s: 200\n"
                                            "intra_node_bandwidth_gbyte_per_s: 300\n");
    CHECK(e.field() == "intra_node_efficiency");
    const auto& row = cluster_field(ClusterSection::cluster, "intra_node_efficiency");
    CHECK(std::string(e.what()).find(std::string(row.help)) != std::string::npos);
  }
}

TEST_CASE("cluster key table: the whole-run keys default from the base preset and a GPU states its TDP") {
  const auto c = load_cluster("dgx-h100:2");
  CHECK(c.run.gpu_hour_price_usd == 0);
  CHECK(c.run.interruptions_per_gpu_day == doctest::Approx(419.0 / (54 * 16384)).epsilon(1e-3));
  CHECK(c.run.checkpoint_write_bandwidth.value() == doctest::Approx(273e9));
  CHECK(c.run.checkpoint_read_bandwidth.value() == doctest::Approx(1e12));
  CHECK(c.run.restart_overhead.value() == doctest::Approx(600));
  CHECK(c.run.slow_node_fraction == 0);
  CHECK(c.run.slow_node_slowdown == 1);
  CHECK(c.gpu.tdp_w == 700);
  CHECK(load_gpu("h100-sxm-500w").tdp_w == 500);
  CHECK(load_gpu("a100-80gb").tdp_w == 400);
  const auto e = load_error("share.yaml", "preset: dgx-h100\nslow_node_fraction: -0.1\n");
  CHECK(e.field() == "slow_node_fraction");
  CHECK(std::string(e.what()).find("expected a number in [0, 1], got -0.1") != std::string::npos);
}

TEST_CASE("cluster key table: fixed lists of slow GPUs and nodes, and the straggler samples") {
  const std::string path = testing::write_temp(
      "slow.yaml",
      "preset: dgx-h100:4\nslow_nodes: [{node: 2, slowdown: 1.2}]\nslow_gpus: [{node: 3, gpu: 5, slowdown: 1.4}]\n"
      "straggler_samples: 8\n",
      "hpsim-cluster-fields-test");
  const auto c = load_cluster(path);
  REQUIRE(c.run.slow_gpus.size() == 2);
  CHECK(c.run.slow_gpus[0] == SlowGpu{2, -1, 1.2});  // a whole node
  CHECK(c.run.slow_gpus[1] == SlowGpu{3, 5, 1.4});
  CHECK(c.run.straggler_samples == 8);
  CHECK(load_cluster("dgx-h100:2").run.straggler_samples == 32);  // base preset
  CHECK(load_cluster("dgx-h100:2").run.slow_gpus.empty());

  struct Bad {
    const char* yaml;
    const char* field;
    const char* expected;
  };
  for (const Bad& b : {Bad{"slow_nodes: [{node: 4, slowdown: 1.2}]", "node", "expected a node index in [0, 4)"},
                       Bad{"slow_gpus: [{node: 0, gpu: 8, slowdown: 1.2}]", "gpu", "expected a GPU index in [0, 8)"},
                       Bad{"slow_gpus: [{node: 0, gpu: 1, slowdown: 0.5}]", "slowdown", "expected a number >= 1"},
                       Bad{"slow_nodes: [{node: 0, gpu: 1, slowdown: 1.5}]", "gpu", "unknown"},
                       Bad{"slow_nodes: 3", "slow_nodes", "a list of {node, slowdown}"},
                       Bad{"straggler_samples: 5000", "straggler_samples", "up to 4096"}}) {
    CAPTURE(b.yaml);
    const auto e = load_error("bad_slow.yaml", std::string("preset: dgx-h100:4\n") + b.yaml + "\n");
    CHECK(e.field() == b.field);
    CHECK(std::string(e.what()).find(b.expected) != std::string::npos);
  }
}

TEST_CASE("cluster key table: FP8's own capped clock takes the 16-bit one's place for FP8 peaks only") {
  const auto capped = load_gpu("h100-sxm-500w");
  CHECK(capped.sustained_peak_for(Precision::bf16).value() == doctest::Approx(989e12 * 1342 / 1830));
  CHECK(capped.sustained_peak_for(Precision::fp8).value() == doctest::Approx(1979e12 * 1597 / 1830));
  // Without the key FP8 follows sustained_clock_mhz.
  CHECK(load_gpu("h100-sxm").sustained_peak_for(Precision::fp8).value() == doctest::Approx(1979e12));
  auto e = load_error("fast.yaml", "preset: dgx-h100\ngpu: {preset: h100-sxm, fp8_sustained_clock_mhz: 2000}\n");
  CHECK(e.field() == "fp8_sustained_clock_mhz");
  CHECK(std::string(e.what()).find("at most peak_clock_mhz") != std::string::npos);
  e = load_error("noclock.yaml", "preset: dgx-a100-80gb\ngpu: {preset: a100-80gb, fp8_sustained_clock_mhz: 1000}\n");
  CHECK(e.field() == "fp8_sustained_clock_mhz");
}
