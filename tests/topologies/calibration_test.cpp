// The calibration block as data (round trip, errors, what the GPU and link take from it) and the base every
// description starts from (a preset spelled out without `preset:` loads the same cluster).
#include <doctest/doctest.h>

#include "core/error.hpp"
#include "topologies/calibration.hpp"
#include "topologies/cluster_spec.hpp"
#include "topologies_test_util.hpp"

using namespace hpsim;
using namespace hpsim::topologies;

namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  return testing::write_temp(name, text, "hpsim-calibration-test");
}

std::string emit(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return out.c_str();
}

Calibration sample() {
  Calibration c{.backend = "cuda", .ranks = 4, .date = "2026-01-02T03:04:05Z", .device = "NVIDIA H100 80GB HBM3",
                .host = "gpubox"};
  c.gemm[Precision::bf16] = {{4096, 4096, 4096, 700.5}, {256, 256, 256, 35.25}};
  c.gemm[Precision::fp32] = {{4096, 4096, 4096, 0.1 + 0.2}};  // not short in binary: must still read back exactly
  c.vector_tflop_per_s = 1.5;
  c.vector_table_tflop_per_s = {{core::VectorKernel::gelu, 2.0}, {core::VectorKernel::softmax, 1.2}};
  c.collectives["all_reduce"]["ring"] = {5.0, 150.0};
  c.collectives["all_gather"]["ring"] = {4.0, 160.0};
  c.collectives["reduce_scatter"]["ring"] = {4.5, 155.0};
  c.collectives["all_to_all"]["ring"] = {6.0, 120.0};
  c.send_recv = LinkFit{8.0, 140.0};
  return c;
}

Calibration read_back(const std::string& text) {
  return calibration_from_fields(core::Fields(core::parse_yaml_text(text, "block.yaml"), "block.yaml"));
}

std::string error_of(const std::string& text) {
  try {
    (void)read_back(text);
  } catch (const core::InputError& e) {
    return e.what();
  }
  return "no error";
}

/// Every field the simulator reads, compared exactly.
void check_same(const ClusterSpec& a, const ClusterSpec& b) {
  CHECK(a.nodes == b.nodes);
  CHECK(a.gpus_per_node == b.gpus_per_node);
  CHECK(a.intra_node_bandwidth.value() == b.intra_node_bandwidth.value());
  CHECK(a.nics_per_node == b.nics_per_node);
  CHECK(a.nic_bandwidth.value() == b.nic_bandwidth.value());
  CHECK(a.nodes_per_leaf == b.nodes_per_leaf);
  CHECK(a.fabric_oversubscription == b.fabric_oversubscription);
  CHECK(a.fabric == b.fabric);
  CHECK(a.intra_node_efficiency == b.intra_node_efficiency);
  CHECK(a.inter_node_efficiency == b.inter_node_efficiency);
  CHECK(a.intra_node_latency.value() == b.intra_node_latency.value());
  CHECK(a.inter_node_latency.value() == b.inter_node_latency.value());
  CHECK(a.memory_reserve.value() == b.memory_reserve.value());
  const GpuSpec &g = a.gpu, &h = b.gpu;
  REQUIRE(g.peak.size() == h.peak.size());
  for (const auto& [p, rate] : g.peak) CHECK(rate.value() == h.peak.at(p).value());
  CHECK(g.hbm_capacity.value() == h.hbm_capacity.value());
  CHECK(g.hbm_bandwidth.value() == h.hbm_bandwidth.value());
  CHECK(g.vector_peak.value() == h.vector_peak.value());
  CHECK(g.vector_table.size() == h.vector_table.size());
  CHECK(g.sm_count == h.sm_count);
  CHECK(g.efficiency.gemm_peak_fraction == h.efficiency.gemm_peak_fraction);
  CHECK(g.efficiency.fp8_gemm_peak_fraction == h.efficiency.fp8_gemm_peak_fraction);
  CHECK(g.efficiency.fp8_blockwise_gemm_ratio == h.efficiency.fp8_blockwise_gemm_ratio);
  CHECK(g.efficiency.in_training_fraction == h.efficiency.in_training_fraction);
  CHECK(g.efficiency.memory_peak_fraction == h.efficiency.memory_peak_fraction);
  CHECK(g.peak_clock_mhz == h.peak_clock_mhz);
  CHECK(g.sustained_clock_mhz == h.sustained_clock_mhz);
  CHECK(g.fp8_sustained_clock_mhz == h.fp8_sustained_clock_mhz);
  CHECK(g.attention_table.size() == h.attention_table.size());
  CHECK(g.efficiency.gemm_tile_m == h.efficiency.gemm_tile_m);
  CHECK(g.efficiency.gemm_tile_n == h.efficiency.gemm_tile_n);
  CHECK(g.efficiency.gemm_k_half_efficiency == h.efficiency.gemm_k_half_efficiency);
  CHECK(g.efficiency.kernel_overhead.value() == h.efficiency.kernel_overhead.value());
  CHECK(g.efficiency.host_overhead.value() == h.efficiency.host_overhead.value());
  CHECK(g.gemm_table.size() == h.gemm_table.size());
}

YAML::Node preset_node(const std::string& name) {
  for (const auto& file : topology_preset_files())
    if (std::string(file.name) == name + ".yaml") return core::parse_yaml_text(std::string(file.text), name);
  FAIL("no preset file " << name);
  return {};
}

/// `base` with `over`'s keys (but `kind`) laid over it: what a preset spelled out in full holds.
/// `over`'s keys on `base`'s, mappings merged key by key (as the loaders overlay a file's keys).
YAML::Node overlay(const YAML::Node& base, const YAML::Node& over) {
  YAML::Node out = YAML::Clone(base);
  for (const auto& entry : over) {
    const std::string key = entry.first.as<std::string>();
    if (key == "kind") continue;
    out[key] = entry.second.IsMap() && out[key].IsMap() ? overlay(out[key], entry.second) : YAML::Clone(entry.second);
  }
  return out;
}

/// A GPU preset's keys with those of the preset it derives from (`preset:`) beneath them.
YAML::Node gpu_keys(const std::string& name) {
  YAML::Node node = preset_node(name);
  if (!node["preset"]) return node;
  YAML::Node out = overlay(gpu_keys(node["preset"].as<std::string>()), node);
  out.remove("preset");
  return out;
}

}  // namespace

TEST_CASE("calibration block: struct -> YAML text -> struct is the same calibration") {
  const Calibration c = sample();
  const std::string text = emit(calibration_to_node(c));
  INFO(text);
  CHECK(read_back(text) == c);
  CHECK(text.find("send_recv: {latency_us: 8, bandwidth_gbyte_per_s: 140}") != std::string::npos);
  CHECK(text.find("  - {m: 4096, n: 4096, k: 4096, tflop_per_s: 700.5}") != std::string::npos);
  // One rank: no fits at all.
  Calibration one = c;
  one.ranks = 1;
  one.collectives.clear();
  one.send_recv.reset();
  const std::string one_text = emit(calibration_to_node(one));
  CHECK(one_text.find("collectives") == std::string::npos);
  CHECK(read_back(one_text) == one);
}

TEST_CASE("calibration block: bad blocks are InputErrors naming the field") {
  const std::string ok = "backend: cpu\nranks: 2\ndate: d\ndevice: x\n";
  CHECK(error_of(ok) == "no error");
  CHECK(error_of(ok + "colectives: {}\n").find("colectives: unknown key") != std::string::npos);
  CHECK(error_of("backend: tpu\nranks: 2\ndate: d\ndevice: x\n").find("backend") != std::string::npos);
  CHECK(error_of("backend: cpu\ndate: d\ndevice: x\n").find("ranks") != std::string::npos);
  CHECK(error_of(ok + "collectives: {broadcast: {ring: {latency_us: 1, bandwidth_gbyte_per_s: 1}}}\n")
            .find("broadcast: not a fitted collective") != std::string::npos);
  CHECK(error_of(ok + "collectives: {all_reduce: {star: {latency_us: 1, bandwidth_gbyte_per_s: 1}}}\n")
            .find("star: not a collective algorithm") != std::string::npos);
  CHECK(error_of(ok + "send_recv: {latency_us: 1, bandwidth_gbyte_per_s: 0}\n").find("bandwidth_gbyte_per_s") !=
        std::string::npos);
  CHECK(error_of(ok + "gemm: {fp64: [{m: 1, n: 1, k: 1, tflop_per_s: 1}]}\n").find("fp64") != std::string::npos);
  CHECK(error_of(ok + "gemm: {fp32: [{m: 1, n: 1, k: 1, tflops: 1}]}\n").find("gemm: fp32[0]") != std::string::npos);
}

TEST_CASE("a cluster file's calibration block gives the GPU's GEMM table, peaks, element-wise rates and link") {
  YAML::Node file = core::parse_yaml_text(
      "name: lab\ngpus_per_node: 4\nnics_per_node: 1\nintra_node_efficiency: 1\ninter_node_efficiency: 1\n"
      "memory_reserve_gib: 2\ngpu: {hbm_gib: 80, hbm_gbyte_per_s: 3000, sm_count: 132}\n",
      "lab");
  file["calibration"] = calibration_to_node(sample());
  const ClusterSpec c = load_cluster(write_temp("lab.yaml", emit(file)));
  REQUIRE(c.calibration.has_value());
  CHECK(*c.calibration == sample());
  CHECK(c.gpu.peak_for(Precision::bf16).value() == doctest::Approx(700.5e12));
  CHECK(c.gpu.peak.count(Precision::fp16) == 0);
  CHECK(c.gpu.gemm_table.size() == 3);
  CHECK(c.gpu.vector_peak.value() == doctest::Approx(1.5e12));
  CHECK(c.gpu.vector_table.at(core::VectorKernel::gelu).value() == doctest::Approx(2e12));
  CHECK(c.intra_node_bandwidth.value() == doctest::Approx(150e9));  // the all-reduce ring fit
  CHECK(c.intra_node_latency.value() == doctest::Approx(5e-6));
  CHECK(c.gpu.efficiency.host_overhead.value() == doctest::Approx(70e-6));  // the base, unless the file says 0
  // The file's own keys win over the block.
  file["intra_node_bandwidth_gbyte_per_s"] = 99;
  file["gpu"]["peak_tflop_per_s"]["bf16"] = 800;
  const ClusterSpec o = load_cluster(write_temp("lab2.yaml", emit(file)));
  CHECK(o.intra_node_bandwidth.value() == doctest::Approx(99e9));
  CHECK(o.gpu.peak_for(Precision::bf16).value() == doctest::Approx(800e12));
}

TEST_CASE("a file from an older hpsim calibrate (no block) asks to recalibrate") {
  const std::string path = write_temp(
      "old.yaml",
      "source: \"hpsim calibrate --backend cpu on box (cpu), 2 ranks, 2025\"\ngpus_per_node: 2\n"
      "intra_node_bandwidth_gbyte_per_s: 1\nnic_bandwidth_gbit_per_s: 8\nintra_node_efficiency: 1\n"
      "inter_node_efficiency: 1\ngpu: {peak_tflop_per_s: {fp32: 0.1}, hbm_gib: 8, hbm_gbyte_per_s: 20, sm_count: 1}\n");
  try {
    (void)load_cluster(path);
    FAIL("expected an InputError");
  } catch (const core::InputError& e) {
    CHECK(std::string(e.what()).find("recalibrate") != std::string::npos);
    CHECK(std::string(e.what()).find("old.yaml") != std::string::npos);
  }
}

TEST_CASE("every cluster preset spelled out in full without preset: loads the same cluster") {
  const YAML::Node base = preset_node("base");
  for (const auto& name : cluster_preset_names()) {
    CAPTURE(name);
    YAML::Node spelled = overlay(base["cluster"], preset_node(name));
    spelled["gpu"] = overlay(base["gpu"], gpu_keys(spelled["gpu"].as<std::string>()));
    CHECK(!spelled["preset"]);
    check_same(load_cluster(write_temp(name + "-spelled.yaml", emit(spelled))), load_cluster(name));
  }
}

TEST_CASE("a GPU or cluster without preset: starts from the base, as the presets do") {
  const GpuSpec own = gpu_from_fields(core::Fields(
      core::parse_yaml_text("{peak_tflop_per_s: {bf16: 312}, hbm_gib: 80, hbm_gbyte_per_s: 2039, sm_count: 108}", "g"),
      "g"));
  const GpuSpec preset = load_gpu("a100-80gb");
  CHECK(own.efficiency.gemm_peak_fraction == preset.efficiency.gemm_peak_fraction);
  CHECK(own.efficiency.memory_peak_fraction == preset.efficiency.memory_peak_fraction);
  CHECK(own.efficiency.host_overhead.value() == preset.efficiency.host_overhead.value());
  CHECK(own.efficiency.kernel_overhead.value() == preset.efficiency.kernel_overhead.value());
  const ClusterSpec c = load_cluster(write_temp(
      "own.yaml", "gpu: a100-80gb\nintra_node_bandwidth_gbyte_per_s: 300\nnic_bandwidth_gbit_per_s: 200\n"
                  "intra_node_efficiency: 0.767\ninter_node_efficiency: 0.96\n"));
  const ClusterSpec a = load_cluster("dgx-a100-80gb");
  CHECK(c.intra_node_latency.value() == a.intra_node_latency.value());
  CHECK(c.inter_node_latency.value() == a.inter_node_latency.value());
  CHECK(c.memory_reserve.value() == a.memory_reserve.value());
  CHECK(c.nics_per_node == 8);
}
