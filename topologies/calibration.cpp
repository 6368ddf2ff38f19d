/// The `calibration:` block of a cluster file: reading, writing, and what the GPU and link take from it.
#include "topologies/calibration.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"
#include "topologies/cluster_fields.hpp"
#include "topologies/cluster_spec.hpp"
#include "topologies/preset_files.hpp"

namespace hpsim::topologies {

namespace {

const std::vector<std::string> kCollectiveNames = {"all_reduce", "all_gather", "reduce_scatter", "all_to_all"};
const std::vector<std::string> kAlgorithmNames = {"ring", "tree", "hierarchical"};
const std::vector<std::string> kFitKeys = {"latency_us", "bandwidth_gbyte_per_s"};
const std::vector<std::string> kGemmKeys = {"m", "n", "k", "tflop_per_s"};

/// The shortest text that reads back as exactly `v`.
YAML::Node number(double v) { return YAML::Node(fmt::format("{}", v)); }

YAML::Node flow(YAML::Node n) {
  n.SetStyle(YAML::EmitterStyle::Flow);
  return n;
}

YAML::Node fit_node(const LinkFit& f) {
  YAML::Node n;
  n["latency_us"] = number(f.latency_us);
  n["bandwidth_gbyte_per_s"] = number(f.bandwidth_gbyte_per_s);
  return flow(n);
}

LinkFit fit_from(const core::Fields& f) {
  detail::reject_unknown_keys(f, kFitKeys);
  return {f.non_negative_number("latency_us"), f.positive_number("bandwidth_gbyte_per_s")};
}

void require_known(const core::Fields& f, const std::string& key, const std::vector<std::string>& known,
                   const std::string& what) {
  if (std::find(known.begin(), known.end(), key) == known.end())
    f.fail(key, "not a " + what + " (known: " + detail::join_names(known) + ")");
}

std::vector<CalibratedGemm> gemm_rows(const core::Fields& f, const std::string& key) {
  const YAML::Node list = f.node()[key];
  if (!list.IsSequence()) f.fail(key, "expected a list of {m, n, k, tflop_per_s}");
  std::vector<CalibratedGemm> rows;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const core::Fields row(list[i], f.where() + ": " + key + "[" + std::to_string(i) + "]");
    detail::reject_unknown_keys(row, kGemmKeys);
    rows.push_back({row.positive_integer("m"), row.positive_integer("n"), row.positive_integer("k"),
                    row.positive_number("tflop_per_s")});
  }
  if (rows.empty()) f.fail(key, "expected at least one measured shape");
  return rows;
}

std::map<std::string, std::map<std::string, LinkFit>> collectives_from(const core::Fields& f) {
  std::map<std::string, std::map<std::string, LinkFit>> out;
  for (const auto& entry : f.node()) {
    const std::string name = entry.first.as<std::string>();
    require_known(f, name, kCollectiveNames, "fitted collective");
    const core::Fields algorithms = f.child(name);
    for (const auto& a : algorithms.node()) {
      const std::string algorithm = a.first.as<std::string>();
      require_known(algorithms, algorithm, kAlgorithmNames, "collective algorithm");
      out[name][algorithm] = fit_from(algorithms.child(algorithm));
    }
  }
  return out;
}

}  // namespace

YAML::Node calibration_to_node(const Calibration& c) {
  YAML::Node n;
  n["backend"] = c.backend;
  n["ranks"] = c.ranks;
  n["date"] = c.date;
  n["device"] = c.device;
  if (!c.host.empty()) n["host"] = c.host;
  YAML::Node gemm;
  for (const auto& [precision, rows] : c.gemm)
    for (const auto& g : rows) {
      YAML::Node row;
      row["m"] = g.m;
      row["n"] = g.n;
      row["k"] = g.k;
      row["tflop_per_s"] = number(g.tflop_per_s);
      gemm[to_string(precision)].push_back(flow(row));
    }
  if (!c.gemm.empty()) n["gemm"] = gemm;
  if (c.vector_tflop_per_s > 0) n["vector_tflop_per_s"] = number(c.vector_tflop_per_s);
  YAML::Node table;
  for (const auto& [kernel, rate] : c.vector_table_tflop_per_s) table[std::string(core::to_string(kernel))] = number(rate);
  if (!c.vector_table_tflop_per_s.empty()) n["vector_table"] = flow(table);
  YAML::Node collectives;
  for (const auto& [name, algorithms] : c.collectives)
    for (const auto& [algorithm, fit] : algorithms) collectives[name][algorithm] = fit_node(fit);
  if (!c.collectives.empty()) n["collectives"] = collectives;
  if (c.send_recv) n["send_recv"] = fit_node(*c.send_recv);
  return n;
}

Calibration calibration_from_fields(const core::Fields& f) {
  const ClusterFieldReader r(f, ClusterSection::calibration);
  Calibration c;
  c.backend = f.choice_or("backend", {"cpu", "cuda"}, "");
  if (c.backend.empty()) f.fail("backend", "missing (cpu or cuda)");
  c.ranks = r.integer("ranks");
  c.date = f.string("date");
  c.device = f.string("device");
  c.host = r.text_or("host", "");
  if (f.has("gemm")) {
    const core::Fields gemm = f.child("gemm");
    for (const auto& entry : gemm.node()) {
      const std::string key = entry.first.as<std::string>();
      c.gemm[parse_precision(key, gemm.where(), key)] = gemm_rows(gemm, key);
    }
  }
  if (r.has("vector_tflop_per_s")) c.vector_tflop_per_s = r.number("vector_tflop_per_s");
  if (f.has("vector_table")) {
    const core::Fields table = f.child("vector_table");
    for (const auto& entry : table.node()) {
      const std::string key = entry.first.as<std::string>();
      const auto kernel = core::vector_kernel_named(key);
      if (!kernel) f.fail("vector_table." + key, "not an element-wise kernel");
      c.vector_table_tflop_per_s[*kernel] = table.positive_number(key);
    }
  }
  if (f.has("collectives")) c.collectives = collectives_from(f.child("collectives"));
  if (f.has("send_recv")) c.send_recv = fit_from(f.child("send_recv"));
  return c;
}

void apply_calibration(GpuSpec& gpu, const Calibration& c) {
  if (!c.gemm.empty()) {
    gpu.peak.clear();
    gpu.gemm_table.clear();
  }
  for (const auto& [precision, rows] : c.gemm) {
    double best = 0;
    for (const auto& g : rows) {
      best = std::max(best, g.tflop_per_s);
      gpu.gemm_table.push_back({g.m, g.n, g.k, precision, core::tflop_per_s(g.tflop_per_s)});
    }
    gpu.peak[precision] = core::tflop_per_s(best);
  }
  if (c.vector_tflop_per_s > 0) gpu.vector_peak = core::tflop_per_s(c.vector_tflop_per_s);
  if (!c.vector_table_tflop_per_s.empty()) {
    gpu.vector_table.clear();
    for (const auto& [kernel, rate] : c.vector_table_tflop_per_s) gpu.vector_table[kernel] = core::tflop_per_s(rate);
  }
}

LinkFit calibrated_intra_node_link(const Calibration& c, const GpuSpec& gpu) {
  if (const auto it = c.collectives.find("all_reduce"); it != c.collectives.end())
    if (const auto ring = it->second.find("ring"); ring != it->second.end()) return ring->second;
  return {1.0, gpu.hbm_bandwidth.value() / 1e9};
}

void reject_old_calibration(const core::Fields& f) {
  if (f.has("calibration") || !f.has("source") || !f.node()["source"].IsScalar()) return;
  if (f.node()["source"].Scalar().rfind("hpsim calibrate", 0) != 0) return;
  f.fail("calibration", "missing: this file was written by an older hpsim calibrate, whose measurements this version "
                        "no longer reads; recalibrate (mpirun -np N hpsim calibrate --backend cpu|cuda --out FILE)");
}

}  // namespace hpsim::topologies
