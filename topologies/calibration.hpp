#pragma once
/// A machine's measurements as data: the `calibration:` block of a cluster file that `hpsim calibrate` writes. The
/// cluster loader derives from it the GPU's GEMM table and peaks, its element-wise rates and the intra-node link
/// (calibration.cpp); nothing is read from comments. Format in topologies/README.md.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/fields.hpp"
#include "core/vector_kernel.hpp"

namespace hpsim::topologies {

enum class Precision;
struct GpuSpec;

/// One measured GEMM shape of one precision (the block lists rows per precision).
struct CalibratedGemm {
  std::int64_t m = 0, n = 0, k = 0;
  double tflop_per_s = 0;  ///< per rank, every rank running the shape at once
  bool operator==(const CalibratedGemm&) const = default;
};

/// time = latency + bytes / bandwidth per algorithm step (hpsim's per-step model, as the coster's links use it).
struct LinkFit {
  double latency_us = 0;
  double bandwidth_gbyte_per_s = 0;
  bool operator==(const LinkFit&) const = default;
};

/// What `hpsim calibrate` measured on one machine. Values are kept in the file's units so that a block read back
/// equals the one written.
struct Calibration {
  std::string backend;  ///< cpu or cuda
  std::int64_t ranks = 0;
  std::string date;     ///< UTC, ISO 8601
  std::string device;   ///< the GPU's name (cuda) or the CPU model (cpu)
  std::string host;
  std::map<Precision, std::vector<CalibratedGemm>> gemm;  ///< cuda: fp32 means TF32
  double vector_tflop_per_s = 0;  ///< the element-wise kernels together (GPT's LayerNorm, GELU, softmax)
  std::map<core::VectorKernel, double> vector_table_tflop_per_s;  ///< kernel by kernel
  /// Collective ("all_reduce", "all_gather", "reduce_scatter", "all_to_all") -> algorithm ("ring", "tree",
  /// "hierarchical") -> fit; only what was measured (none with one rank).
  std::map<std::string, std::map<std::string, LinkFit>> collectives;
  std::optional<LinkFit> send_recv;  ///< point to point, one way
  bool operator==(const Calibration&) const = default;
};

/// The block as a YAML mapping (numbers in their shortest exact form; rows and fits in flow style).
YAML::Node calibration_to_node(const Calibration& c);
/// Reads a `calibration:` mapping; unknown keys and bad values are InputErrors naming the file and field.
Calibration calibration_from_fields(const core::Fields& fields);

/// The GPU's figures a calibration gives: peak per precision (the best measured rate), the GEMM table, the
/// element-wise rate and table. Keys the GPU mapping gives itself are applied after, and win.
void apply_calibration(GpuSpec& gpu, const Calibration& c);
/// The intra-node link of a calibrated one-node cluster: the all-reduce ring fit; with one rank (nothing measured)
/// a nominal link at the device's streaming rate, 1 us per step, which one-rank plans never use.
LinkFit calibrated_intra_node_link(const Calibration& c, const GpuSpec& gpu);

/// Throws an InputError asking to recalibrate when `fields` is a cluster file written by an older `hpsim calibrate`
/// (its source says so, but it has no calibration block).
void reject_old_calibration(const core::Fields& fields);

}  // namespace hpsim::topologies
