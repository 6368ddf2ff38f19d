/// The cluster key table: one row per key of a cluster description, and how the docs name and describe each.
#include "topologies/cluster_fields.hpp"

#include <array>
#include <optional>
#include <stdexcept>

#include "core/vector_kernel.hpp"
#include "topologies/preset_files.hpp"

namespace hpsim::topologies {

namespace {

using S = ClusterSection;
using V = ClusterValue;

// Defaults the base preset holds have an empty default text: the table prints the base's value.
constexpr std::string_view kFromBase = {};
constexpr bool kSweep = true;
// A GPU's and a calibration's element-wise rates are written the same way.
constexpr std::string_view kKernelRates =
    "a mapping element-wise kernel (layernorm, rmsnorm, gelu, swiglu, softmax) to a positive number";

/// The keys every description starts with: the free-text ones (kind, name, source, description), then `preset`.
constexpr std::array<ClusterField, 5> heading_rows(ClusterSection s, std::string_view kind_help,
                                                   std::string_view name_default, std::string_view name_help,
                                                   std::string_view preset_values) {
  return {ClusterField{s, "kind", V::text, "", "none", kind_help},
          ClusterField{s, "name", V::text, "", name_default, name_help},
          ClusterField{s, "source", V::text, "", "empty", "where the figures come from"},
          ClusterField{s, "description", V::text, "", "empty", "free text"},
          ClusterField{s, "preset", V::structured, "", "none: a full description",
                       "a preset to start from; the other keys override it", preset_values}};
}

constexpr std::array kClusterHeading = heading_rows(S::cluster, "free text (`cluster` in preset files)",
                                                    "the file's name", "the cluster's name",
                                                    "NAME or NAME:NODES of a cluster preset");
constexpr std::array kClusterRows = {
    ClusterField{S::cluster, "gpu", V::structured, "", "required", "the GPU type",
                 "a GPU preset name, a GPU file or a GPU mapping (gpu.* keys)", kSweep},
    ClusterField{S::cluster, "nodes", V::positive_integer, "", kFromBase, "number of nodes", {}, kSweep},
    ClusterField{S::cluster, "gpus_per_node", V::positive_integer, "", kFromBase, "GPUs per node, on one NVSwitch",
                 {}, kSweep},
    ClusterField{S::cluster, "intra_node_bandwidth_gbyte_per_s", V::positive_number, "GB/s",
                 "required (a calibration: its all-reduce ring fit)",
                 "NVLink/NVSwitch bandwidth per GPU, per direction", {}, kSweep},
    ClusterField{S::cluster, "nics_per_node", V::positive_integer, "", "gpus_per_node",
                 "NICs per node for training traffic", {}, kSweep},
    ClusterField{S::cluster, "nic_bandwidth_gbit_per_s", V::positive_number, "Gb/s",
                 "required (a calibration: the intra-node link; one node uses no NIC)", "per NIC, per direction", {},
                 kSweep},
    ClusterField{S::cluster, "nodes_per_leaf", V::positive_integer, "", kFromBase,
                 "nodes whose rail-k NICs share one leaf switch (a divisor of fabric.nodes_per_pod)", {}, kSweep},
    ClusterField{S::cluster, "fabric_oversubscription", V::ratio, "", kFromBase,
                 "leaf down/up capacity ratio (1 = non-blocking, 7 means 1:7)", {}, kSweep},
    ClusterField{S::cluster, "intra_node_efficiency", V::fraction, "", "required",
                 "best collective bus bandwidth / NVLink rate (nccl-tests)", {}, kSweep},
    ClusterField{S::cluster, "inter_node_efficiency", V::fraction, "", "required",
                 "best collective bus bandwidth / NIC rate (nccl-tests)", {}, kSweep},
    ClusterField{S::cluster, "intra_node_latency_us", V::non_negative_number, "µs", kFromBase,
                 "latency per algorithm step over NVLink (a calibration without the key: its all-reduce ring fit)", {},
                 kSweep},
    ClusterField{S::cluster, "inter_node_latency_us", V::non_negative_number, "µs", kFromBase,
                 "latency per algorithm step over the network", {}, kSweep},
    ClusterField{S::cluster, "memory_reserve_gib", V::non_negative_number, "GiB", kFromBase,
                 "HBM not available to training (CUDA context, NCCL buffers, fragmentation); less than the GPU's",
                 {}, kSweep},
    ClusterField{S::cluster, "collective_kernel_sms", V::non_negative_number, "SMs", kFromBase,
                 "SMs a collective kernel occupies while it runs (its channels); compute overlapping a data-parallel "
                 "collective runs on the rest", {}, kSweep},
    ClusterField{S::cluster, "nvls_efficiency", V::share, "", kFromBase,
                 "NVLink SHARP (NVLS) all-reduce inside one node: its algorithm bandwidth / NVLink rate (each GPU "
                 "sends its buffer into the switch once and receives the sum once); 0: the switch cannot reduce",
                 {}, kSweep},
    ClusterField{S::cluster, "nvls_latency_us", V::non_negative_number, "µs", kFromBase,
                 "latency of an NVLS all-reduce", {}, kSweep},
    // What a whole run meets beyond its steps (planner/whole_run.hpp, docs/whole_run.md).
    ClusterField{S::cluster, "gpu_hour_price_usd", V::non_negative_number, "USD", kFromBase,
                 "price of one GPU-hour, for the whole run's cost (0: unknown, no cost reported)", {}, kSweep},
    ClusterField{S::cluster, "interruptions_per_gpu_day", V::non_negative_number, "1/(GPU day)", kFromBase,
                 "unexpected job interruptions per GPU per day; a job of N GPUs fails every 1/(rate N) days", {},
                 kSweep},
    ClusterField{S::cluster, "checkpoint_write_gbyte_per_s", V::positive_number, "GB/s", kFromBase,
                 "aggregate bandwidth at which the job writes a checkpoint to storage", {}, kSweep},
    ClusterField{S::cluster, "checkpoint_read_gbyte_per_s", V::positive_number, "GB/s", kFromBase,
                 "aggregate bandwidth at which a restarted job reads the checkpoint back", {}, kSweep},
    ClusterField{S::cluster, "restart_overhead_s", V::non_negative_number, "s", kFromBase,
                 "time from an interruption to training again, less reading the checkpoint (rescheduling, launch, "
                 "communicator setup)", {}, kSweep},
    ClusterField{S::cluster, "slow_node_fraction", V::share, "", kFromBase,
                 "chance that a node is a straggler (a fraction of the fleet runs slow); placements are drawn and "
                 "simulated (straggler_samples)", {}, kSweep},
    ClusterField{S::cluster, "slow_node_slowdown", V::ratio, "", kFromBase,
                 "how much longer a straggler's compute takes (1.2: 20 % slower)", {}, kSweep},
    ClusterField{S::cluster, "straggler_samples", V::positive_integer, "", kFromBase,
                 "seeded placements of slow nodes drawn from slow_node_fraction and simulated for the P50/P99 step "
                 "time (at most 4096)", {}, kSweep},
    ClusterField{S::cluster, "slow_nodes", V::structured, "", "none",
                 "nodes known to run slow, every GPU's compute taking `slowdown` times as long (simulated, every rank)",
                 "a list of {node, slowdown}: node in [0, nodes), slowdown >= 1"},
    ClusterField{S::cluster, "slow_gpus", V::structured, "", "none",
                 "GPUs known to run slow, their compute taking `slowdown` times as long (simulated, every rank)",
                 "a list of {node, gpu, slowdown}: node in [0, nodes), gpu in [0, gpus_per_node), slowdown >= 1"},
    ClusterField{S::cluster, "node_groups", V::structured, "", "absent: every node is `gpu`",
                 "a mixed cluster: groups of nodes of different GPU types in rank order (docs/mixed_clusters.md); "
                 "their nodes add up to the cluster's (give node_groups or nodes, not both); every group has "
                 "gpus_per_node GPUs per node and sits on the one fabric",
                 "a list of node_groups[].* mappings"},
    ClusterField{S::cluster, "fabric", V::structured, "", "rail-optimized, one pod",
                 "the switch tiers above the leaves", "a mapping of fabric.* keys"},
    ClusterField{S::cluster, "calibration", V::structured, "", "absent",
                 "what hpsim calibrate measured: the GPU's rates, the intra-node link (the all-reduce ring fit) and "
                 "the intra-node price of each other collective it has a fit for come from it",
                 "a mapping of calibration.* keys"},
};

/// A key of the `fabric` mapping; its structural defaults are FabricSpec's (tests check that the text says the same).
constexpr ClusterField fabric(std::string_view key, ClusterValue value, std::string_view default_text,
                              std::string_view help) {
  return {S::fabric, key, value, "", default_text, help};
}

constexpr std::array kFabricRows = {
    fabric("rail_optimized", V::boolean, "true",
           "true: NIC k of every node on rail k's leaf, every rail its own spines and cores (traffic changes rails "
           "over NVLink, PXN); false: all NICs of a node on its group's one leaf (a top-of-rack switch)"),
    fabric("nodes_per_pod", V::positive_integer, "all nodes: one pod, no cores",
           "nodes under one set of spines, a multiple of nodes_per_leaf; pods are joined by core switches"),
    fabric("pod_oversubscription", V::ratio, "1",
           "spine down/up capacity ratio towards the cores (1 = full bisection, 7 means 1:7)"),
    fabric("spines", V::positive_integer, "1",
           "spine switches per pod (per rail when rail-optimized); every leaf links to each, ECMP spreads over them"),
    fabric("cores", V::positive_integer, "1",
           "core switches (per rail when rail-optimized); every spine links to each"),
};

/// A key of one `node_groups` entry: a group overrides the cluster's GPU and node links like a preset's keys.
constexpr ClusterField node_group(std::string_view key, ClusterValue value, std::string_view unit,
                                  std::string_view default_text, std::string_view help, std::string_view values = {}) {
  return {S::node_group, key, value, unit, default_text, help, values};
}

constexpr std::array kNodeGroupRows = {
    node_group("nodes", V::positive_integer, "", "required", "nodes of this group"),
    node_group("gpu", V::structured, "", "the cluster's gpu (required without one)", "the GPU type of this group",
               "a GPU preset name, a GPU file or a GPU mapping (gpu.* keys)"),
    node_group("intra_node_bandwidth_gbyte_per_s", V::positive_number, "GB/s", "the cluster's",
               "NVLink/NVSwitch bandwidth per GPU, per direction, in this group's nodes"),
    node_group("nics_per_node", V::positive_integer, "", "the cluster's", "NICs per node of this group"),
    node_group("nic_bandwidth_gbit_per_s", V::positive_number, "Gb/s", "the cluster's",
               "per NIC of this group, per direction (a transfer between groups runs at the slower side's)"),
};

/// A tensor clock of a GPU whose peaks are quoted at a clock it cannot sustain.
constexpr ClusterField gpu_clock(std::string_view key, std::string_view help,
                                 std::string_view default_text = "absent: the quoted clock is sustained") {
  return {S::gpu, key, V::positive_number, "MHz", default_text, help};
}

constexpr std::array kGpuHeading = heading_rows(S::gpu, "free text (`gpu` in preset files)",
                                                "the file's name (custom-gpu inline)", "the GPU's name",
                                                "a GPU preset name");
constexpr std::array kGpuRows = {
    ClusterField{S::gpu, "peak_tflop_per_s", V::structured, "TFLOP/s",
                 "required (a calibration: the best measured rate per precision)",
                 "dense tensor-core peak per precision (fp32 = TF32 where it exists); with a preset, the given "
                 "precisions replace the preset's",
                 "a mapping precision (fp32, fp16, bf16, fp8) to a positive number"},
    ClusterField{S::gpu, "hbm_gib", V::positive_number, "GiB", "required (or hbm_gbyte)",
                 "HBM capacity (or give hbm_gbyte)"},
    ClusterField{S::gpu, "hbm_gbyte", V::positive_number, "GB", "required (or hbm_gib)",
                 "HBM capacity in 10^9 bytes; give hbm_gib or hbm_gbyte, not both"},
    ClusterField{S::gpu, "hbm_gbyte_per_s", V::positive_number, "GB/s", "required", "HBM bandwidth"},
    ClusterField{S::gpu, "vector_tflop_per_s", V::positive_number, "TFLOP/s",
                 "absent: element-wise kernels costed by their bytes alone (a calibration: its measured rate)",
                 "FP32 vector (CUDA-core) peak: the compute side of the element-wise roofline, max(bytes / (HBM x "
                 "memory_peak_fraction), vector flops / vector peak)"},
    ClusterField{S::gpu, "vector_table", V::structured, "TFLOP/s",
                 "absent: vector_tflop_per_s for every kernel (a calibration: its table)",
                 "measured FP32 vector rate per element-wise kernel, used instead of vector_tflop_per_s for that "
                 "kernel's operators",
                 kKernelRates},
    ClusterField{S::gpu, "sm_count", V::positive_integer, "", "required", "streaming multiprocessors"},
    ClusterField{S::gpu, "efficiency", V::structured, "", "the base preset's (gpu.efficiency.* rows)",
                 "how close kernels come to the peaks; given keys replace the base's one by one",
                 "a mapping of gpu.efficiency.* keys"},
    ClusterField{S::gpu, "gemm_table", V::structured, "TFLOP/s", "empty (a calibration: its gemm rows)",
                 "measured GEMM rates, used instead of the analytic efficiency curve",
                 "a list of {m, n, k, precision, tflop_per_s}"},
    ClusterField{S::gpu, "attention_table", V::structured, "TFLOP/s",
                 "absent: attention costed as its score GEMM's shape",
                 "published BF16 fused-attention rates (FLOPs 4 b h s^2 d forward, halved when causal; backward 2.5x), "
                 "looked up log-linearly by sequence length at the nearest head dimension for the plan's "
                 "attention_backend",
                 "{seq: [ascending lengths], rows: [{kernel: cudnn, flash2 or flash3, head_dim, causal, pass: forward "
                 "or backward, tflop_per_s: [one per length]}]}"},
    ClusterField{S::gpu, "tdp_w", V::positive_number, "W", "absent: no energy reported",
                 "board power limit (TDP), for the whole run's energy at full power"},
    gpu_clock("peak_clock_mhz", "the tensor clock the peaks are quoted at (give sustained_clock_mhz too)"),
    gpu_clock("sustained_clock_mhz", "the tensor clock the part sustains under its power limit: tensor-core work "
                                     "scales with sustained / peak clock (give peak_clock_mhz too)"),
    gpu_clock("fp8_sustained_clock_mhz",
              "the tensor clock FP8 GEMMs sustain under the power limit, when it differs from 16-bit work's: an FP8 "
              "GEMM already meets the power limit of an uncapped part, so a cap slows it less (at most "
              "peak_clock_mhz; give peak_clock_mhz too)",
              "sustained_clock_mhz"),
};

/// A key of a GPU's `efficiency` mapping: the base preset holds every default.
constexpr ClusterField efficiency(std::string_view key, ClusterValue value, std::string_view unit,
                                  std::string_view help) {
  return {S::gpu_efficiency, key, value, unit, kFromBase, help};
}

constexpr std::array kEfficiencyRows = {
    efficiency("gemm_peak_fraction", V::fraction, "",
               "the best-shaped GEMM run alone, as a fraction of the dense peak (maximum achievable matmul rate)"),
    ClusterField{S::gpu_efficiency, "fp8_gemm_peak_fraction", V::fraction, "", "as gemm_peak_fraction",
                 "the same for FP8 GEMMs (per-tensor scaled cuBLASLt), which reach less of their doubled peak"},
    ClusterField{S::gpu_efficiency, "fp8_blockwise_gemm_ratio", V::fraction, "", "1",
                 "block-scaled FP8 GEMMs (fp8_recipe blockwise: scales applied inside the main loop) as a fraction "
                 "of the per-tensor scaled FP8 rate"},
    efficiency("in_training_fraction", V::fraction, "",
               "what a kernel keeps of its isolated benchmark rate inside a training step (applied to the GEMM "
               "fractions and the attention table; 1 in calibration files)"),
    efficiency("memory_peak_fraction", V::fraction, "", "achieved / peak HBM bandwidth of streaming kernels"),
    efficiency("gemm_tile_m", V::positive_integer, "", "output tile rows of a typical GEMM kernel (wave quantization)"),
    efficiency("gemm_tile_n", V::positive_integer, "", "output tile columns of a typical GEMM kernel"),
    efficiency("gemm_k_half_efficiency", V::positive_number, "",
               "reduction depth k at which a 16-bit GEMM reaches half its peak fraction at the peak clock (FP8, or "
               "a lower sustained clock: times its sustained peak over the quoted 16-bit one)"),
    efficiency("kernel_overhead_us", V::non_negative_number, "µs", "launch and ramp per kernel"),
    efficiency("host_overhead_us", V::non_negative_number, "µs",
               "the framework's host time to issue one operator of the layer model (backward: twice); a pass cannot "
               "run faster than the host issues it (hpsim calibrate writes 0)"),
};

constexpr std::array kCalibrationRows = {
    ClusterField{S::calibration, "backend", V::structured, "", "required",
                 "the executor measured: CPU (OpenBLAS, MPI) or one GPU per rank (cuBLAS, NCCL)", "cpu or cuda"},
    ClusterField{S::calibration, "ranks", V::positive_integer, "", "required",
                 "ranks busy at once during the measurement (the file's gpus_per_node)"},
    ClusterField{S::calibration, "date", V::text, "", "required", "when it was measured: UTC, ISO 8601"},
    ClusterField{S::calibration, "device", V::text, "", "required", "the GPU's name (cuda) or the CPU model (cpu)"},
    ClusterField{S::calibration, "host", V::text, "", "empty", "the host name"},
    ClusterField{S::calibration, "gemm", V::structured, "TFLOP/s", "absent",
                 "measured GEMM rates per rank, every rank running the shape at once (cuda: fp32 means TF32)",
                 "a mapping precision to a list of {m, n, k, tflop_per_s}"},
    ClusterField{S::calibration, "vector_tflop_per_s", V::positive_number, "TFLOP/s", "absent",
                 "the element-wise kernels together: FP32 vector flops as hpsim counts them / time"},
    ClusterField{S::calibration, "vector_table", V::structured, "TFLOP/s", "absent",
                 "the element-wise rate kernel by kernel",
                 kKernelRates},
    ClusterField{S::calibration, "collectives", V::structured, "µs, GB/s", "absent",
                 "least-squares fits of whole collectives in hpsim's per-step model (ring all-reduce 2(n-1) steps of "
                 "S/n, all-gather, reduce-scatter and all-to-all n-1 steps of S/n); only what was measured",
                 "a mapping collective (all_reduce, all_gather, reduce_scatter, all_to_all) to algorithm (ring, tree, "
                 "hierarchical) to {latency_us, bandwidth_gbyte_per_s}"},
    ClusterField{S::calibration, "send_recv", V::structured, "µs, GB/s", "absent",
                 "point to point, one way (half a ping-pong)", "{latency_us, bandwidth_gbyte_per_s}"},
};

std::vector<ClusterField> make_table() {
  std::vector<ClusterField> t;
  t.insert(t.end(), kClusterHeading.begin(), kClusterHeading.end());
  t.insert(t.end(), kClusterRows.begin(), kClusterRows.end());
  t.insert(t.end(), kFabricRows.begin(), kFabricRows.end());
  t.insert(t.end(), kNodeGroupRows.begin(), kNodeGroupRows.end());
  t.insert(t.end(), kGpuHeading.begin(), kGpuHeading.end());
  t.insert(t.end(), kGpuRows.begin(), kGpuRows.end());
  t.insert(t.end(), kEfficiencyRows.begin(), kEfficiencyRows.end());
  t.insert(t.end(), kCalibrationRows.begin(), kCalibrationRows.end());
  return t;
}

std::string_view path_prefix(ClusterSection s) {
  switch (s) {
    case S::cluster: return "";
    case S::fabric: return "fabric.";
    case S::node_group: return "node_groups[].";
    case S::gpu: return "gpu.";
    case S::gpu_efficiency: return "gpu.efficiency.";
    case S::calibration: return "calibration.";
  }
  return "";
}

/// The base preset's mapping for `s`, when the base has one (the fabric and calibration have none).
std::optional<core::Fields> base_section(ClusterSection s) {
  switch (s) {
    case S::cluster: return detail::base_fields("cluster");
    case S::gpu: return detail::base_fields("gpu");
    case S::gpu_efficiency: return detail::base_fields("gpu").child("efficiency");
    case S::fabric:
    case S::node_group:
    case S::calibration: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::span<const ClusterField> cluster_field_table() {
  static const std::vector<ClusterField> table = make_table();
  return table;
}

std::vector<std::string> cluster_section_keys(ClusterSection section) {
  std::vector<std::string> keys;
  for (const auto& f : cluster_field_table())
    if (f.section == section) keys.emplace_back(f.key);
  return keys;
}

const ClusterField& cluster_field(ClusterSection section, std::string_view key) {
  for (const auto& f : cluster_field_table())
    if (f.section == section && f.key == key) return f;
  throw std::logic_error("cluster key table: no row for " + std::string(path_prefix(section)) + std::string(key));
}

std::string cluster_field_path(const ClusterField& field) {
  return std::string(path_prefix(field.section)) + std::string(field.key);
}

std::string cluster_field_values(const ClusterField& field) {
  switch (field.value) {
    case V::text: return "text";
    case V::positive_integer: return "a positive integer up to 2^20";
    case V::positive_number: return "a positive number";
    case V::non_negative_number: return "a number >= 0";
    case V::fraction: return "a number in (0, 1]";
    case V::share: return "a number in [0, 1]";
    case V::ratio: return "a number >= 1";
    case V::boolean: return "true or false";
    case V::structured: return std::string(field.values);
  }
  return "a value";
}

std::string cluster_field_default(const ClusterField& field) {
  if (!field.default_text.empty()) return std::string(field.default_text);
  const auto base = base_section(field.section);
  const std::string key(field.key);
  if (!base || !base->has(key))
    throw std::logic_error("cluster key table: " + cluster_field_path(field) + " takes its default from the base "
                           "preset, which does not hold it");
  return base->node()[key].Scalar() + " (base preset)";
}

}  // namespace hpsim::topologies
