/// GPU descriptions: presets, files and preset-plus-overrides mappings.
#include <filesystem>

#include "core/error.hpp"
#include "topologies/cluster_fields.hpp"
#include "topologies/cluster_spec.hpp"
#include "topologies/preset_files.hpp"

namespace hpsim::topologies {

namespace {

using S = ClusterSection;

void apply_efficiency(ComputeEfficiency& e, const core::Fields& fields) {
  const ClusterFieldReader f(fields, S::gpu_efficiency);
  e.gemm_peak_fraction = f.number_or("gemm_peak_fraction", e.gemm_peak_fraction);
  e.fp8_gemm_peak_fraction = f.number_or("fp8_gemm_peak_fraction", e.fp8_gemm_peak_fraction);
  e.fp8_blockwise_gemm_ratio = f.number_or("fp8_blockwise_gemm_ratio", e.fp8_blockwise_gemm_ratio);
  e.in_training_fraction = f.number_or("in_training_fraction", e.in_training_fraction);
  e.memory_peak_fraction = f.number_or("memory_peak_fraction", e.memory_peak_fraction);
  e.gemm_tile_m = f.integer_or("gemm_tile_m", e.gemm_tile_m);
  e.gemm_tile_n = f.integer_or("gemm_tile_n", e.gemm_tile_n);
  e.gemm_k_half_efficiency = f.number_or("gemm_k_half_efficiency", e.gemm_k_half_efficiency);
  if (f.has("kernel_overhead_us")) e.kernel_overhead = core::microseconds(f.number("kernel_overhead_us"));
  if (f.has("host_overhead_us")) e.host_overhead = core::microseconds(f.number("host_overhead_us"));
}

std::map<core::VectorKernel, core::FlopsPerSecond> parse_vector_table(const core::Fields& f) {
  std::map<core::VectorKernel, core::FlopsPerSecond> table;
  for (const auto& entry : f.node()) {
    const std::string key = entry.first.as<std::string>();
    const auto kernel = core::vector_kernel_named(key);
    if (!kernel) {
      std::string known;
      for (const auto& [k, name] : core::kVectorKernels) known += (known.empty() ? "" : ", ") + std::string(name);
      f.fail(key, "not an element-wise kernel (known: " + known + ")");
    }
    table[*kernel] = core::tflop_per_s(f.positive_number(key));
  }
  return table;
}

/// `f[key]` as a list of mappings holding only `keys`: `read` turns each row (its errors naming "key[i]") into a T.
template <typename T, typename Read>
std::vector<T> parse_rows(const core::Fields& f, const std::string& key, const std::vector<std::string>& keys,
                          Read read) {
  const YAML::Node list = f.node()[key];
  std::string shape;
  for (const auto& k : keys) shape += (shape.empty() ? "" : ", ") + k;
  if (!list.IsSequence()) f.fail(key, "expected a list of {" + shape + "}");
  std::vector<T> table;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const core::Fields row(list[i], f.where() + ": " + key + "[" + std::to_string(i) + "]");
    detail::reject_unknown_keys(row, keys);
    table.push_back(read(row));
  }
  return table;
}

std::vector<GemmMeasurement> parse_gemm_table(const core::Fields& f) {
  return parse_rows<GemmMeasurement>(f, "gemm_table", {"m", "n", "k", "precision", "tflop_per_s"},
                                     [](const core::Fields& row) {
    GemmMeasurement g;
    g.m = row.positive_integer("m");
    g.n = row.positive_integer("n");
    g.k = row.positive_integer("k");
    g.precision = parse_precision(row.string("precision"), row.where(), "precision");
    g.achieved = core::tflop_per_s(row.positive_number("tflop_per_s"));
    return g;
  });
}

/// `attention_table: {seq: [...], rows: [{kernel, head_dim, causal, pass, tflop_per_s: [...]}]}`: one rate per
/// sequence length of `seq` (ascending) in each row.
std::vector<AttentionRates> parse_attention_table(const core::Fields& f) {
  detail::reject_unknown_keys(f, {"source", "seq", "rows"});
  const YAML::Node seq = f.node()["seq"];
  if (!seq.IsSequence() || seq.size() == 0) f.fail("seq", "expected a list of ascending sequence lengths");
  std::vector<std::int64_t> lengths;
  for (std::size_t i = 0; i < seq.size(); ++i) {
    const auto v = seq[i].as<std::int64_t>(0);
    if (v <= 0 || (!lengths.empty() && v <= lengths.back()))
      f.fail("seq", "expected a list of ascending positive sequence lengths");
    lengths.push_back(v);
  }
  return parse_rows<AttentionRates>(f, "rows", {"kernel", "head_dim", "causal", "pass", "tflop_per_s"},
                                    [&](const core::Fields& row) {
    AttentionRates r;
    r.kernel = row.string("kernel");
    r.head_dim = row.positive_integer("head_dim");
    if (!row.has("causal")) row.fail("causal", "missing (true or false)");
    r.causal = row.boolean_or("causal", false);
    const std::string pass = row.string("pass");
    if (pass != "forward" && pass != "backward") row.fail("pass", "expected forward or backward, got '" + pass + "'");
    r.backward = pass == "backward";
    const YAML::Node rates = row.node()["tflop_per_s"];
    if (!rates.IsSequence() || rates.size() != lengths.size())
      row.fail("tflop_per_s", "expected " + std::to_string(lengths.size()) + " rates, one per entry of seq");
    for (std::size_t j = 0; j < lengths.size(); ++j) {
      const double v = rates[j].as<double>(0);
      if (!(v > 0)) row.fail("tflop_per_s", "expected positive rates");
      r.by_seq.emplace_back(lengths[j], core::tflop_per_s(v));
    }
    return r;
  });
}

/// Overlays the keys present in `f` onto `gpu`; `full` requires what a description without a preset must give.
void apply_gpu_fields(GpuSpec& gpu, const core::Fields& fields, bool full) {
  const ClusterFieldReader f(fields, S::gpu);
  gpu.name = f.text_or("name", gpu.name);
  gpu.source = f.text_or("source", gpu.source);
  if (full && !f.has("peak_tflop_per_s") && gpu.peak.empty()) f.require("peak_tflop_per_s");
  if (f.has("peak_tflop_per_s")) {
    const core::Fields peaks = fields.child("peak_tflop_per_s");
    for (const auto& entry : peaks.node()) {
      const std::string key = entry.first.as<std::string>();
      const Precision p = parse_precision(key, peaks.where(), key);
      gpu.peak[p] = core::tflop_per_s(peaks.positive_number(key));
    }
    if (gpu.peak.empty()) fields.fail("peak_tflop_per_s", "expected at least one precision");
  }
  if (f.has("hbm_gib") && f.has("hbm_gbyte")) fields.fail("hbm_gbyte", "give hbm_gib or hbm_gbyte, not both");
  if (f.has("hbm_gib")) gpu.hbm_capacity = core::gib(f.number("hbm_gib"));
  else if (f.has("hbm_gbyte")) gpu.hbm_capacity = core::gigabytes(f.number("hbm_gbyte"));
  else if (full) f.require("hbm_gib");
  if (full || f.has("hbm_gbyte_per_s")) gpu.hbm_bandwidth = core::gbyte_per_s(f.number("hbm_gbyte_per_s"));
  if (f.has("vector_tflop_per_s")) gpu.vector_peak = core::tflop_per_s(f.number("vector_tflop_per_s"));
  if (f.has("vector_table")) gpu.vector_table = parse_vector_table(fields.child("vector_table"));
  if (full || f.has("sm_count")) gpu.sm_count = f.integer("sm_count");
  if (f.has("efficiency")) apply_efficiency(gpu.efficiency, fields.child("efficiency"));
  if (f.has("gemm_table")) gpu.gemm_table = parse_gemm_table(fields);
  if (f.has("attention_table")) gpu.attention_table = parse_attention_table(fields.child("attention_table"));
  gpu.tdp_w = f.number_or("tdp_w", gpu.tdp_w);
  gpu.peak_clock_mhz = f.number_or("peak_clock_mhz", gpu.peak_clock_mhz);
  gpu.sustained_clock_mhz = f.number_or("sustained_clock_mhz", gpu.sustained_clock_mhz);
  if ((gpu.peak_clock_mhz > 0) != (gpu.sustained_clock_mhz > 0))
    fields.fail("sustained_clock_mhz", "give both peak_clock_mhz and sustained_clock_mhz, or neither");
  gpu.fp8_sustained_clock_mhz = f.number_or("fp8_sustained_clock_mhz", gpu.fp8_sustained_clock_mhz);
  if (gpu.fp8_sustained_clock_mhz > 0 && gpu.peak_clock_mhz <= 0)
    fields.fail("fp8_sustained_clock_mhz", "give peak_clock_mhz and sustained_clock_mhz too");
  if (gpu.fp8_sustained_clock_mhz > gpu.peak_clock_mhz)
    fields.fail("fp8_sustained_clock_mhz", "expected at most peak_clock_mhz: no clock runs above the quoted one");
}

/// presets/base.yaml's `gpu` mapping: where every GPU, preset or not, starts.
const GpuSpec& base_gpu() {
  static const GpuSpec base = [] {
    GpuSpec gpu;
    apply_gpu_fields(gpu, detail::base_fields("gpu"), false);
    return gpu;
  }();
  return base;
}

GpuSpec gpu_preset(const std::string& name, const std::string& where, const std::string& field) {
  const auto node = detail::find_preset("gpu", name);
  if (!node)
    throw core::InputError(where, field,
                           "unknown GPU '" + name + "' (known: " + detail::join_names(gpu_preset_names()) + ")");
  // A preset may start from another (a variant of the same chip): its keys then override that preset's.
  const core::Fields fields(*node, detail::preset_where(name));
  const bool variant = fields.has("preset");
  GpuSpec gpu = variant ? gpu_preset(fields.string("preset"), fields.where(), "preset") : base_gpu();
  apply_gpu_fields(gpu, fields, !variant);
  if (gpu.name.empty()) gpu.name = name;
  return gpu;
}

}  // namespace

core::FlopsPerSecond GpuSpec::sustained_peak_for(Precision p) const {
  const core::FlopsPerSecond quoted = peak_for(p);
  if (peak_clock_mhz <= 0) return quoted;
  const bool own_fp8_clock = p == Precision::fp8 && fp8_sustained_clock_mhz > 0;
  const double clock = own_fp8_clock ? fp8_sustained_clock_mhz : sustained_clock_mhz;
  return quoted * (clock / peak_clock_mhz);
}

core::FlopsPerSecond GpuSpec::peak_for(Precision p) const {
  const auto it = peak.find(p);
  if (it == peak.end())
    throw core::InputError(name, "precision", "GPU " + name + " has no " + to_string(p) + " tensor-core peak");
  return it->second;
}

GpuSpec gpu_from_fields(const core::Fields& fields, const Calibration* calibration) {
  const bool preset = fields.has("preset");
  GpuSpec gpu = preset ? gpu_preset(fields.string("preset"), fields.where(), "preset") : base_gpu();
  if (calibration != nullptr) apply_calibration(gpu, *calibration);
  apply_gpu_fields(gpu, fields, !preset);
  if (gpu.name.empty()) gpu.name = "custom-gpu";
  return gpu;
}

GpuSpec load_gpu(const std::string& name) {
  if (core::is_file(name)) {
    GpuSpec gpu = gpu_from_fields(core::Fields(core::load_yaml_file(name), name));
    if (gpu.name == "custom-gpu") gpu.name = std::filesystem::path(name).stem().string();
    return gpu;
  }
  return gpu_preset(name, name, "gpu");
}

std::vector<std::string> gpu_preset_names() { return detail::preset_names("gpu"); }

std::vector<GpuSpec> gpu_presets() {
  std::vector<GpuSpec> out;
  for (const auto& name : gpu_preset_names()) out.push_back(load_gpu(name));
  return out;
}

}  // namespace hpsim::topologies
