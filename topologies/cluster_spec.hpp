#pragma once
/// GPUs and clusters as data: presets (topologies/presets/*.yaml, compiled in), files, and preset-plus-overrides.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/embedded_file.hpp"
#include "core/fields.hpp"
#include "core/units.hpp"
#include "core/vector_kernel.hpp"
#include "topologies/calibration.hpp"

namespace hpsim::topologies {

enum class Precision { fp32, fp16, bf16, fp8 };
/// "fp32", "fp16", "bf16", "fp8"; anything else is an InputError naming `where` and `field`.
Precision parse_precision(const std::string& text, const std::string& where, const std::string& field);
std::string to_string(Precision p);

/// How close real kernels come to the GPU's peaks (used by sim's compute cost). Physical fractions, per GPU type;
/// their values are data: presets/base.yaml, overridden by a GPU file or preset.
struct ComputeEfficiency {
  double gemm_peak_fraction = 0;     ///< achieved / peak FLOP/s of the best-shaped GEMM run alone (cuBLAS)
  /// The same for FP8 GEMMs (per-tensor scaled cuBLASLt), which reach a smaller fraction of their doubled peak;
  /// 0: as gemm_peak_fraction.
  double fp8_gemm_peak_fraction = 0;
  /// Block-scaled FP8 GEMMs (1x128 / 128x128 scales, applied to the accumulators inside the main loop) as a fraction
  /// of the per-tensor scaled FP8 rate, whose one scale waits for the epilogue.
  double fp8_blockwise_gemm_ratio = 1;
  /// What a kernel keeps of its isolated benchmark rate inside a training step (GEMM fractions, attention tables).
  double in_training_fraction = 1;
  double memory_peak_fraction = 0;   ///< achieved / peak HBM bandwidth of streaming kernels
  std::int64_t gemm_tile_m = 0;      ///< output tile of a typical GEMM kernel, for wave quantization
  std::int64_t gemm_tile_n = 0;
  double gemm_k_half_efficiency = 0; ///< depth k at which a 16-bit GEMM reaches half its peak fraction (peak clock)
  core::Seconds kernel_overhead{0};  ///< launch + ramp per kernel
  /// The framework's host time to issue one operator of hpsim's layer model (its backward issues
  /// kBackwardIssueFactor times as much): a pass cannot run faster on the device than the host issues it. 0: the
  /// device alone decides (a C++ executor, or a captured graph).
  core::Seconds host_overhead{0};
};

/// The backward of an operator issues about twice the work of its forward: data- and weight-gradient kernels, and
/// the autograd engine's bookkeeping.
inline constexpr double kBackwardIssueFactor = 2.0;

/// A measured GEMM rate (from `hpsim calibrate`); when present these replace the analytic efficiency curve.
struct GemmMeasurement {
  std::int64_t m = 0, n = 0, k = 0;
  Precision precision = Precision::bf16;
  core::FlopsPerSecond achieved;
};

/// Measured rates of a fused attention kernel (one kernel, head dimension, mask and pass) by sequence length, as
/// published: FLOPs counted 4*b*h*s*s*d forward (halved when causal), backward 2.5x the forward.
struct AttentionRates {
  std::string kernel;            ///< "cudnn", "flash2", "flash3"
  std::int64_t head_dim = 0;
  bool causal = false;
  bool backward = false;
  std::vector<std::pair<std::int64_t, core::FlopsPerSecond>> by_seq;  ///< ascending sequence lengths
};

/// One GPU type.
struct GpuSpec {
  std::string name;
  std::string source;
  std::map<Precision, core::FlopsPerSecond> peak;  ///< dense tensor-core peak (fp32 means TF32 where it exists)
  core::Bytes hbm_capacity;
  core::BytesPerSecond hbm_bandwidth;
  /// FP32 vector (CUDA-core, non-tensor-core) peak for the arithmetic of element-wise kernels; 0 when not given:
  /// element-wise kernels are then costed by their bytes alone (memory-bound, as they are on every datacenter GPU).
  core::FlopsPerSecond vector_peak;
  /// Measured arithmetic rates of particular element-wise kernels (a CPU's, from `hpsim calibrate`); a kernel not
  /// listed runs at vector_peak.
  std::map<core::VectorKernel, core::FlopsPerSecond> vector_table;
  std::int64_t sm_count = 0;
  ComputeEfficiency efficiency;
  std::vector<GemmMeasurement> gemm_table;
  /// BF16 fused-attention rates (kernels named by the plan's attention_backend); empty: attention is costed as
  /// its score GEMM's shape.
  std::vector<AttentionRates> attention_table;
  /// The clock the peaks are quoted at and the tensor clock the GPU sustains under its power limit (a capped part
  /// runs slower); tensor-core work scales with their ratio. 0: the quoted clock is sustained.
  double peak_clock_mhz = 0;
  double sustained_clock_mhz = 0;
  /// The tensor clock of FP8 GEMMs under the power limit, where it differs (0: sustained_clock_mhz).
  double fp8_sustained_clock_mhz = 0;
  double tdp_w = 0;  ///< board power limit, for a whole run's energy; 0: unknown
  /// Peak for `p`; an InputError when the GPU has none (e.g. fp8 on A100).
  [[nodiscard]] core::FlopsPerSecond peak_for(Precision p) const;
  /// Tensor-core rate at the sustained clock: peak_for(p) scaled by sustained_clock_mhz (FP8:
  /// fp8_sustained_clock_mhz when given) / peak_clock_mhz.
  [[nodiscard]] core::FlopsPerSecond sustained_peak_for(Precision p) const;
};

/// The switch tiers above the leaves: pods of leaf groups under spines, pods joined by cores (cluster files' `fabric`).
struct FabricSpec {
  bool rail_optimized = true;          ///< NIC k of a node on rail k's leaf (and spine plane); else all NICs on one leaf
  std::int64_t nodes_per_pod = 0;      ///< nodes under one set of spines; 0: the whole cluster is one pod
  double pod_oversubscription = 1.0;   ///< spine down/up ratio towards the cores (1 = full bisection; 7 means 1:7)
  std::int64_t spines = 1;             ///< spine switches per pod (per rail when rail-optimized), joined to every leaf
  std::int64_t cores = 1;              ///< core switches (per rail when rail-optimized), joined to every spine
  bool operator==(const FabricSpec&) const = default;
};

/// A GPU (or a whole node) known to run slow: its compute takes `slowdown` times as long as a healthy one's.
struct SlowGpu {
  std::int64_t node = 0;
  std::int64_t gpu = -1;  ///< -1: every GPU of the node
  double slowdown = 1;
  bool operator==(const SlowGpu&) const = default;
};

/// What a whole training run meets beyond its steps: the price of GPU time, interruptions and the checkpoints that
/// bound their cost, and slow nodes (cluster keys; defaults and sources in presets/base.yaml).
struct RunConditions {
  double gpu_hour_price_usd = 0;         ///< 0: unknown
  double interruptions_per_gpu_day = 0;  ///< unexpected job interruptions per GPU per day
  core::BytesPerSecond checkpoint_write_bandwidth;  ///< aggregate, to storage
  core::BytesPerSecond checkpoint_read_bandwidth;   ///< aggregate, from storage
  core::Seconds restart_overhead;        ///< interruption to training again, less reading the checkpoint
  double slow_node_fraction = 0;         ///< chance that a node is a straggler
  double slow_node_slowdown = 1;         ///< a straggler's compute time / a healthy node's
  std::vector<SlowGpu> slow_gpus;        ///< a fixed list (slow_gpus and slow_nodes keys), beside the distribution
  std::int64_t straggler_samples = 0;    ///< seeded placements of slow nodes simulated for the step-time spread
};

/// One group of a mixed cluster's nodes (cluster files' `node_groups`): their GPU type and node links. Groups hold
/// ranks in the order listed (group 0 the first nodes); they share the cluster's fabric, efficiencies and latencies.
struct NodeGroup {
  std::int64_t nodes = 0;
  GpuSpec gpu;
  core::BytesPerSecond intra_node_bandwidth;  ///< NVLink/NVSwitch, per GPU, per direction
  std::int64_t nics_per_node = 0;
  core::BytesPerSecond nic_bandwidth;         ///< per NIC, per direction
};

/// A cluster: nodes of GPUs joined by NVSwitch, NICs on a leaf/spine/core fabric (rail-optimized by default). The
/// loaders start every cluster from presets/base.yaml: the zeros below are never seen by the simulator.
struct ClusterSpec {
  std::string name;
  std::string source;
  GpuSpec gpu;
  std::int64_t nodes = 0;
  std::int64_t gpus_per_node = 0;
  core::BytesPerSecond intra_node_bandwidth;   ///< NVLink/NVSwitch, per GPU, per direction
  std::int64_t nics_per_node = 0;
  core::BytesPerSecond nic_bandwidth;          ///< per NIC, per direction
  std::int64_t nodes_per_leaf = 0;             ///< nodes whose rail-k NICs share one leaf switch
  double fabric_oversubscription = 0;          ///< leaf down/up ratio (1 = non-blocking; 7 means 1:7)
  FabricSpec fabric;                           ///< rails, pods and the tier above them
  double intra_node_efficiency = 0;            ///< best collective bus bandwidth / NVLink rate (nccl-tests)
  double inter_node_efficiency = 0;            ///< best collective bus bandwidth / NIC rate (nccl-tests)
  core::Seconds intra_node_latency;            ///< per algorithm step over NVLink
  core::Seconds inter_node_latency;            ///< per algorithm step over the network
  core::Bytes memory_reserve;                  ///< HBM not available to training (context, NCCL, fragmentation)
  double collective_kernel_sms = 0;            ///< SMs a collective kernel occupies while it runs (NCCL channels)
  double nvls_efficiency = 0;                  ///< NVLS all-reduce algorithm bandwidth / NVLink rate (0: no NVLS)
  core::Seconds nvls_latency;                  ///< NVLS all-reduce latency
  RunConditions run;                           ///< prices, interruptions, checkpoint storage, stragglers
  /// What `hpsim calibrate` measured, when the cluster file has a `calibration:` block (the GPU and intra-node link
  /// above are derived from it).
  std::optional<Calibration> calibration;
  /// A mixed cluster's groups (at least two), in rank order; the fields above then hold group 0's GPU and links.
  /// Empty: every node is `gpu`.
  std::vector<NodeGroup> node_groups;

  [[nodiscard]] std::int64_t total_gpus() const { return nodes * gpus_per_node; }
  [[nodiscard]] bool mixed() const { return !node_groups.empty(); }
  [[nodiscard]] core::Bytes usable_memory() const { return gpu.hbm_capacity - memory_reserve; }
};

/// The homogeneous cluster of `c`'s size whose every node is of node group `group` (its GPU and links): what the
/// stages on that group are costed on. A homogeneous `c` itself for group 0.
ClusterSpec group_cluster(const ClusterSpec& c, std::size_t group);
/// The node group holding node `node` (0 for a homogeneous cluster).
std::size_t node_group_of(const ClusterSpec& c, std::int64_t node);

/// `spec` is "preset", "preset:NODES" or a YAML/JSON cluster file. Errors name the file and field.
ClusterSpec load_cluster(const std::string& spec);
/// A mapping (file or inline in a validation case): `preset` + overrides, or a full description.
ClusterSpec cluster_from_fields(const core::Fields& fields);
/// A GPU preset by name (a100-40gb, a100-80gb, h100-sxm, h200-sxm, ...) or a GPU YAML/JSON file.
GpuSpec load_gpu(const std::string& name);
/// A GPU mapping: `preset` + overrides, or a full description (keys in topologies/cluster_fields); a cluster file's
/// calibration, when given, supplies the measured figures (apply_calibration) and the mapping's own keys win.
GpuSpec gpu_from_fields(const core::Fields& fields, const Calibration* calibration = nullptr);
std::vector<std::string> cluster_preset_names();  ///< sorted
std::vector<std::string> gpu_preset_names();      ///< sorted
std::vector<ClusterSpec> cluster_presets();  ///< one node each, in name order
std::vector<GpuSpec> gpu_presets();
std::span<const core::EmbeddedFile> topology_preset_files();

}  // namespace hpsim::topologies
