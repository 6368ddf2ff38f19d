#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "topologies/cluster_spec.hpp"
#include "topologies_test_util.hpp"

using namespace hpsim;
using namespace hpsim::topologies;

namespace {
using testing::write_temp;

/// The InputError `f` throws (fails the test when it throws none).
template <class F>
core::InputError input_error(F f) {
  try {
    f();
  } catch (const core::InputError& e) {
    return e;
  }
  FAIL("expected an InputError");
  return core::InputError("", "", "");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("every preset loads with its datasheet figures") {
  CHECK(cluster_preset_names() ==
        std::vector<std::string>{"dgx-a100-40gb", "dgx-a100-80gb", "dgx-h100", "dgx-h200", "llama3-h100-roce"});
  CHECK(gpu_preset_names() ==
        std::vector<std::string>{"a100-40gb", "a100-80gb", "h100-sxm", "h100-sxm-500w", "h200-sxm"});
  CHECK(cluster_presets().size() == 5);
  CHECK(gpu_presets().size() == 5);
  for (const auto& c : cluster_presets()) {
    CHECK(c.nodes == 1);
    CHECK(c.gpus_per_node == 8);
    CHECK(c.nics_per_node == 8);
    CHECK(c.usable_memory().value() > 0);
    CHECK(!c.source.empty());
  }
  const ClusterSpec a = load_cluster("dgx-a100-80gb");
  CHECK(a.gpu.name == "a100-80gb");
  CHECK(a.gpu.peak_for(Precision::bf16).value() == doctest::Approx(312e12));
  CHECK(a.gpu.peak_for(Precision::fp32).value() == doctest::Approx(156e12));
  CHECK_THROWS_AS((void)a.gpu.peak_for(Precision::fp8), core::InputError);
  CHECK(a.gpu.hbm_capacity.value() == doctest::Approx(80.0 * (1 << 30)));
  CHECK(a.gpu.sm_count == 108);
  CHECK(a.intra_node_bandwidth.value() == doctest::Approx(300e9));
  CHECK(a.nic_bandwidth.value() == doctest::Approx(25e9));  // 200 Gb/s
  CHECK(a.intra_node_bandwidth.value() * a.intra_node_efficiency == doctest::Approx(230e9).epsilon(0.01));
  const ClusterSpec h = load_cluster("dgx-h100");
  CHECK(h.gpu.peak_for(Precision::fp8).value() == doctest::Approx(1979e12));
  CHECK(h.gpu.sm_count == 132);
  CHECK(h.nic_bandwidth.value() == doctest::Approx(50e9));  // 400 Gb/s
  CHECK(load_gpu("h200-sxm").hbm_bandwidth.value() == doctest::Approx(4.8e12));
}

TEST_CASE("preset:NODES sets the node count") {
  const ClusterSpec c = load_cluster("dgx-a100-80gb:128");
  CHECK(c.nodes == 128);
  CHECK(c.total_gpus() == 1024);
  CHECK(c.name == "dgx-a100-80gb");
}

TEST_CASE("a preset-plus-overrides file") {
  const std::string path = write_temp("override.yaml", R"(
preset: dgx-h100
nodes: 64
nic_bandwidth_gbit_per_s: 200
fabric_oversubscription: 7
gpu: h200-sxm
)");
  const ClusterSpec c = load_cluster(path);
  CHECK(c.nodes == 64);
  CHECK(c.nic_bandwidth.value() == doctest::Approx(25e9));
  CHECK(c.fabric_oversubscription == 7);
  CHECK(c.gpu.name == "h200-sxm");
  CHECK(c.intra_node_bandwidth.value() == doctest::Approx(450e9));  // kept from the preset
}

TEST_CASE("the fabric mapping: rails, pods, their oversubscription, spines and cores") {
  const ClusterSpec plain = load_cluster("dgx-h100:4");
  CHECK(plain.fabric == FabricSpec{});  // rail-optimized, one pod: the two-tier fat tree of before
  const std::string path = write_temp("fabric.yaml", R"(
preset: dgx-h100
nodes: 256
nodes_per_leaf: 16
fabric:
  rail_optimized: false
  nodes_per_pod: 64
  pod_oversubscription: 3
  spines: 4
  cores: 2
)");
  const ClusterSpec c = load_cluster(path);
  CHECK(c.fabric == FabricSpec{false, 64, 3.0, 4, 2});
  // Llama 3's cluster: racks of 2 servers on one ToR, pods of 3,072 GPUs, 1:7 above them (arXiv 2407.21783 §3.3.1).
  const ClusterSpec meta = load_cluster("llama3-h100-roce:3072");
  CHECK(meta.total_gpus() == 24576);
  CHECK(meta.nodes_per_leaf == 2);
  CHECK(meta.fabric == FabricSpec{false, 384, 7.0, 1, 1});
  CHECK(meta.nic_bandwidth.value() == doctest::Approx(50e9));
}

TEST_CASE("a full description in JSON with an inline GPU built on a preset and a GEMM table") {
  const std::string path = write_temp("full.json", R"({
  "name": "lab", "nodes": 2, "gpus_per_node": 4, "intra_node_bandwidth_gbyte_per_s": 100,
  "nic_bandwidth_gbit_per_s": 100, "nics_per_node": 2, "intra_node_efficiency": 0.8, "inter_node_efficiency": 0.9,
  "gpu": {"preset": "a100-40gb", "efficiency": {"gemm_peak_fraction": 0.7},
          "gemm_table": [{"m": 4096, "n": 4096, "k": 4096, "precision": "bf16", "tflop_per_s": 250}]}
})");
  const ClusterSpec c = load_cluster(path);
  CHECK(c.name == "lab");
  CHECK(c.total_gpus() == 8);
  CHECK(c.nics_per_node == 2);
  CHECK(c.gpu.efficiency.gemm_peak_fraction == 0.7);
  REQUIRE(c.gpu.gemm_table.size() == 1);
  CHECK(c.gpu.gemm_table[0].achieved.value() == doctest::Approx(250e12));
  CHECK(c.gpu.hbm_capacity.value() == doctest::Approx(40.0 * (1 << 30)));
  CHECK(c.gpu.vector_table.empty());  // GPUs' element-wise kernels are memory-bound: no table in the presets
}

TEST_CASE("a GPU's vector_table gives element-wise kernels their measured rates") {
  const std::string path = write_temp("vt.yaml", "preset: dgx-h100\ngpu: {preset: h100-sxm, vector_table: "
                                                 "{gelu: 0.002, swiglu: 0.006}}\n");
  const ClusterSpec c = load_cluster(path);
  REQUIRE(c.gpu.vector_table.size() == 2);
  CHECK(c.gpu.vector_table.at(core::VectorKernel::gelu).value() == doctest::Approx(2e9));
  CHECK(c.gpu.vector_table.at(core::VectorKernel::swiglu).value() == doctest::Approx(6e9));
}

TEST_CASE("cluster_from_fields takes an inline mapping") {
  const core::Fields f(YAML::Load("{preset: dgx-a100-40gb, nodes: 4, intra_node_efficiency: 0.5}"), "case 3");
  const ClusterSpec c = cluster_from_fields(f);
  CHECK(c.nodes == 4);
  CHECK(c.intra_node_efficiency == 0.5);
}

TEST_CASE("bad cluster inputs are InputErrors naming the file and field") {
  SUBCASE("unknown preset lists the known ones") {
    const auto e = input_error([] { (void)load_cluster("dgx-b300"); });
    CHECK(contains(e.what(), "dgx-a100-80gb"));
    const auto g = input_error([] { (void)load_gpu("b200"); });
    CHECK(contains(g.what(), "h100-sxm"));
  }
  SUBCASE("bad node count") {
    CHECK(contains(input_error([] { (void)load_cluster("dgx-h100:abc"); }).what(), "dgx-h100:abc"));
    CHECK(contains(input_error([] { (void)load_cluster("dgx-h100:0"); }).what(), "positive node count"));
    const std::string path = write_temp("nodes.yaml", "preset: dgx-h100\nnodes: 0\n");
    const auto e = input_error([&] { (void)load_cluster(path); });
    CHECK(e.where() == path);
    CHECK(e.field() == "nodes");
  }
  SUBCASE("negative bandwidth") {
    const std::string path = write_temp("neg.yaml", "preset: dgx-h100\nnic_bandwidth_gbit_per_s: -400\n");
    CHECK(input_error([&] { (void)load_cluster(path); }).field() == "nic_bandwidth_gbit_per_s");
  }
  SUBCASE("non-numeric field") {
    const std::string path = write_temp("nan.yaml", "preset: dgx-h100\nintra_node_bandwidth_gbyte_per_s: fast\n");
    CHECK(input_error([&] { (void)load_cluster(path); }).field() == "intra_node_bandwidth_gbyte_per_s");
  }
  SUBCASE("efficiency above 1") {
    const std::string path = write_temp("eff.yaml", "preset: dgx-h100\ninter_node_efficiency: 1.2\n");
    CHECK(input_error([&] { (void)load_cluster(path); }).field() == "inter_node_efficiency");
  }
  SUBCASE("a collective kernel cannot take every SM of the GPU") {
    const std::string path = write_temp("sms.yaml", "preset: dgx-h100\ncollective_kernel_sms: 132\n");
    const auto e = input_error([&] { (void)load_cluster(path); });
    CHECK(e.field() == "collective_kernel_sms");
    CHECK(contains(e.what(), "132 SMs"));
    const std::string cpu = write_temp("cpu_sms.yaml", "preset: dgx-h100\ngpu: {preset: h100-sxm, sm_count: 1}\n");
    CHECK(input_error([&] { (void)load_cluster(cpu); }).field() == "collective_kernel_sms");
  }
  SUBCASE("oversubscription below 1") {
    const std::string path = write_temp("over.yaml", "preset: dgx-h100\nfabric_oversubscription: 0.5\n");
    CHECK(input_error([&] { (void)load_cluster(path); }).field() == "fabric_oversubscription");
  }
  SUBCASE("fabric: oversubscription below 1, pods of partial leaf groups, unknown keys") {
    std::string path = write_temp("pod.yaml", "preset: dgx-h100\nfabric: {pod_oversubscription: 0.5}\n");
    core::InputError e = input_error([&] { (void)load_cluster(path); });
    CHECK(e.field() == "pod_oversubscription");
    CHECK(contains(e.where(), "fabric"));
    path = write_temp("pod2.yaml", "preset: dgx-h100\nfabric: {nodes_per_pod: 48}\n");  // leaves of 32 nodes
    CHECK(input_error([&] { (void)load_cluster(path); }).field() == "nodes_per_pod");
    path = write_temp("pod3.yaml", "preset: dgx-h100\nfabric: {rails: false}\n");
    CHECK(input_error([&] { (void)load_cluster(path); }).field() == "rails");
    path = write_temp("pod4.yaml", "preset: dgx-h100\nfabric: {spines: 0}\n");
    CHECK(input_error([&] { (void)load_cluster(path); }).field() == "spines");
    path = write_temp("pod5.yaml", "preset: llama3-h100-roce\nnodes_per_leaf: 5\n");  // pods of 384 nodes
    CHECK(input_error([&] { (void)load_cluster(path); }).field() == "nodes_per_leaf");
  }
  SUBCASE("broken YAML names the file") {
    const std::string path = write_temp("broken.yaml", "preset: [dgx-h100\nnodes: 2\n");
    CHECK(input_error([&] { (void)load_cluster(path); }).where() == path);
  }
  SUBCASE("unknown key (a typo)") {
    const std::string path = write_temp("typo.yaml", "preset: dgx-h100\nnode: 2\n");
    CHECK(input_error([&] { (void)load_cluster(path); }).field() == "node");
  }
  SUBCASE("unknown GPU in a cluster file") {
    const std::string path = write_temp("gpu.yaml", "preset: dgx-h100\ngpu: v100\n");
    const auto e = input_error([&] { (void)load_cluster(path); });
    CHECK(e.field() == "gpu");
    CHECK(contains(e.what(), "a100-80gb"));
  }
  SUBCASE("full description missing a required key") {
    const std::string path = write_temp("missing.yaml", "gpu: a100-80gb\nnic_bandwidth_gbit_per_s: 200\n");
    CHECK(input_error([&] { (void)load_cluster(path); }).field() == "intra_node_bandwidth_gbyte_per_s");
    // Link efficiencies are measured figures of the hardware: no default without a preset.
    const std::string no_eff = write_temp(
        "noeff.yaml", "gpu: a100-80gb\nnic_bandwidth_gbit_per_s: 200\nintra_node_bandwidth_gbyte_per_s: 300\n");
    CHECK(input_error([&] { (void)load_cluster(no_eff); }).field() == "intra_node_efficiency");
  }
  SUBCASE("bad precision in a GEMM table") {
    const std::string path = write_temp(
        "gemm.yaml", "preset: dgx-h100\ngpu: {preset: h100-sxm, gemm_table: [{m: 1, n: 1, k: 1, precision: "
                     "int4, tflop_per_s: 1}]}\n");
    const auto e = input_error([&] { (void)load_cluster(path); });
    CHECK(e.field() == "precision");
    CHECK(contains(e.where(), "gemm_table[0]"));
  }
  SUBCASE("unknown kernel or bad rate in a vector table") {
    const std::string path =
        write_temp("vector.yaml", "preset: dgx-h100\ngpu: {preset: h100-sxm, vector_table: {layernorm: 1, tanh: 2}}\n");
    const auto e = input_error([&] { (void)load_cluster(path); });
    CHECK(e.field() == "tanh");
    CHECK(contains(e.where(), "vector_table"));
    CHECK(contains(e.what(), "swiglu"));  // lists the known kernels
    const std::string neg = write_temp("vneg.yaml", "preset: dgx-h100\ngpu: {preset: h100-sxm, vector_table: {gelu: -1}}\n");
    CHECK(input_error([&] { (void)load_cluster(neg); }).field() == "gelu");
  }
  SUBCASE("a missing file") {
    CHECK(input_error([] { (void)load_cluster("no/such/cluster.yaml"); }).where() == "no/such/cluster.yaml");
  }
}

TEST_CASE("precision names round-trip") {
  for (const Precision p : {Precision::fp32, Precision::fp16, Precision::bf16, Precision::fp8})
    CHECK(parse_precision(to_string(p), "x", "precision") == p);
  CHECK_THROWS_AS((void)parse_precision("int8", "x", "precision"), core::InputError);
}

TEST_CASE("a cluster count beyond 2^20 is refused with the key, not built") {
  const std::string path = write_temp("many_nics.yaml", "preset: dgx-h100\nnics_per_node: 4294967297\n");
  try {
    (void)load_cluster(path);
    FAIL("expected an InputError");
  } catch (const hpsim::core::InputError& e) {
    CHECK(std::string(e.what()).find("nics_per_node: expected a positive integer up to 2^20, got 4294967297") !=
          std::string::npos);
  }
}
