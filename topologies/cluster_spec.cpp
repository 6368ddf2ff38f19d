/// Cluster descriptions: "preset[:nodes]", files, and preset-plus-overrides mappings.
#include "topologies/cluster_spec.hpp"

#include <algorithm>
#include <filesystem>

#include "core/error.hpp"
#include "topologies/cluster_fields.hpp"
#include "topologies/preset_files.hpp"

namespace hpsim::topologies {

namespace {

using S = ClusterSection;

/// An efficiency a description without a preset must give (a measured figure of its hardware).
double efficiency(const ClusterFieldReader& r, std::string_view key, double fallback, bool full) {
  if (full) r.require(key);
  return r.number_or(key, fallback);
}

GpuSpec gpu_of(const core::Fields& f, const Calibration* calibration) {
  if (!f.has("gpu")) f.fail("gpu", "missing (required without a preset: a GPU preset name, a GPU file or a mapping)");
  const YAML::Node node = f.node()["gpu"];
  if (node.IsMap()) return gpu_from_fields(f.child("gpu"), calibration);
  const std::string name = f.string("gpu");
  const auto known = gpu_preset_names();
  if (!core::is_file(name) && std::find(known.begin(), known.end(), name) == known.end())
    f.fail("gpu", "unknown GPU '" + name + "' (known: " + detail::join_names(known) + "; or a GPU file or mapping)");
  GpuSpec gpu = load_gpu(name);
  if (calibration != nullptr) apply_calibration(gpu, *calibration);
  return gpu;
}

/// Overlays the `fabric` mapping's keys onto `fabric`; a pod holds whole leaf groups.
void apply_fabric_fields(FabricSpec& fabric, std::int64_t nodes_per_leaf, const core::Fields& fields) {
  const ClusterFieldReader f(fields, S::fabric);
  fabric.rail_optimized = f.boolean_or("rail_optimized", fabric.rail_optimized);
  fabric.nodes_per_pod = f.integer_or("nodes_per_pod", fabric.nodes_per_pod);
  if (fabric.nodes_per_pod > 0 && fabric.nodes_per_pod % nodes_per_leaf != 0)
    fields.fail("nodes_per_pod", "expected a multiple of nodes_per_leaf (" + std::to_string(nodes_per_leaf) +
                                     "): a pod holds whole leaf groups, got " + std::to_string(fabric.nodes_per_pod));
  fabric.spines = f.integer_or("spines", fabric.spines);
  fabric.cores = f.integer_or("cores", fabric.cores);
  fabric.pod_oversubscription = f.number_or("pod_oversubscription", fabric.pod_oversubscription);
}

/// The intra-node link and NIC: given, else (a calibration file) the measured link, else required when `full`.
void apply_link_fields(ClusterSpec& c, const ClusterFieldReader& f, bool full) {
  std::optional<LinkFit> measured;
  if (c.calibration) measured = calibrated_intra_node_link(*c.calibration, c.gpu);
  if (f.has("intra_node_bandwidth_gbyte_per_s") || (full && !measured))
    c.intra_node_bandwidth = core::gbyte_per_s(f.number("intra_node_bandwidth_gbyte_per_s"));
  else if (measured) c.intra_node_bandwidth = core::gbyte_per_s(measured->bandwidth_gbyte_per_s);
  if (f.has("intra_node_latency_us")) c.intra_node_latency = core::microseconds(f.number("intra_node_latency_us"));
  else if (measured) c.intra_node_latency = core::microseconds(measured->latency_us);
  if (f.has("nic_bandwidth_gbit_per_s") || (full && !measured))
    c.nic_bandwidth = core::gbit_per_s(f.number("nic_bandwidth_gbit_per_s"));
  else if (measured) c.nic_bandwidth = c.intra_node_bandwidth;  // one node: the NIC carries nothing
  if (f.has("inter_node_latency_us")) c.inter_node_latency = core::microseconds(f.number("inter_node_latency_us"));
}

/// A cluster costs time and memory in proportion to its GPUs: refuse one beyond any built before any work.
void check_cluster_gpus(const ClusterSpec& c, const std::string& where, const std::string& field) {
  if (c.nodes > kMaxClusterGpus || c.nodes * c.gpus_per_node > kMaxClusterGpus)
    throw core::InputError(where, field,
                           "expected at most " + std::to_string(kMaxClusterGpus) + " GPUs in all, got " +
                               std::to_string(c.nodes) + " nodes of " + std::to_string(c.gpus_per_node) + " GPUs");
}

/// The upper bound of straggler_samples: each sample may be a simulation of every GPU.
constexpr std::int64_t kMaxStragglerSamples = 4096;

/// A `slow_nodes` (whole nodes) or `slow_gpus` list: each entry a mapping, its indices inside the cluster.
std::vector<SlowGpu> slow_list(const core::Fields& fields, const std::string& key, const ClusterSpec& c) {
  const YAML::Node list = fields.node()[key];
  const bool whole_nodes = key == "slow_nodes";
  if (!list.IsSequence())
    fields.fail(key, "expected " + cluster_field_values(cluster_field(ClusterSection::cluster, key)));
  std::vector<SlowGpu> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string where = fields.where() + ": " + key + "[" + std::to_string(i) + "]";
    if (!list[i].IsMap()) throw core::InputError(where, key, "expected a mapping");
    const core::Fields entry(list[i], where);
    entry.reject_unknown_keys(whole_nodes ? std::vector<std::string>{"node", "slowdown"}
                                          : std::vector<std::string>{"node", "gpu", "slowdown"});
    SlowGpu g;
    g.node = entry.non_negative_integer_or("node", -1);
    if (g.node < 0 || g.node >= c.nodes)
      entry.fail("node", "expected a node index in [0, " + std::to_string(c.nodes) + ")");
    if (!whole_nodes) {
      g.gpu = entry.non_negative_integer_or("gpu", -1);
      if (g.gpu < 0 || g.gpu >= c.gpus_per_node)
        entry.fail("gpu", "expected a GPU index in [0, " + std::to_string(c.gpus_per_node) + ")");
    }
    g.slowdown = entry.number("slowdown");
    if (!(g.slowdown >= 1)) entry.fail("slowdown", "expected a number >= 1");
    out.push_back(g);
  }
  return out;
}

/// Overlays the whole-run keys present in `f` onto `run`.
void apply_run_fields(RunConditions& run, const ClusterFieldReader& f, const ClusterSpec& c) {
  run.gpu_hour_price_usd = f.number_or("gpu_hour_price_usd", run.gpu_hour_price_usd);
  run.interruptions_per_gpu_day = f.number_or("interruptions_per_gpu_day", run.interruptions_per_gpu_day);
  if (f.has("checkpoint_write_gbyte_per_s"))
    run.checkpoint_write_bandwidth = core::gbyte_per_s(f.number("checkpoint_write_gbyte_per_s"));
  if (f.has("checkpoint_read_gbyte_per_s"))
    run.checkpoint_read_bandwidth = core::gbyte_per_s(f.number("checkpoint_read_gbyte_per_s"));
  if (f.has("restart_overhead_s")) run.restart_overhead = core::Seconds(f.number("restart_overhead_s"));
  run.slow_node_fraction = f.number_or("slow_node_fraction", run.slow_node_fraction);
  run.slow_node_slowdown = f.number_or("slow_node_slowdown", run.slow_node_slowdown);
  run.straggler_samples = f.integer_or("straggler_samples", run.straggler_samples);
  if (run.straggler_samples > kMaxStragglerSamples)
    f.fields().fail("straggler_samples", "expected a positive integer up to " + std::to_string(kMaxStragglerSamples));
  // A file's lists replace its preset's: a list states every known straggler.
  if (f.has("slow_nodes") || f.has("slow_gpus")) run.slow_gpus.clear();
  for (const char* key : {"slow_nodes", "slow_gpus"})
    if (f.has(key))
      for (const auto& g : slow_list(f.fields(), key, c)) run.slow_gpus.push_back(g);
}

/// Reads `node_groups`: each group starts from the cluster's GPU and links, its keys override them; the cluster's
/// nodes become the groups' sum and its GPU and links group 0's. A single group is the homogeneous cluster.
void apply_node_groups(ClusterSpec& c, const core::Fields& fields, bool nodes_given) {
  if (nodes_given) fields.fail("nodes", "give node_groups or nodes, not both (the groups' nodes add up to the cluster's)");
  const YAML::Node list = fields.node()["node_groups"];
  if (!list.IsSequence() || list.size() == 0)
    fields.fail("node_groups", "expected a non-empty list of {nodes, gpu, intra_node_bandwidth_gbyte_per_s, "
                               "nics_per_node, nic_bandwidth_gbit_per_s}");
  std::vector<NodeGroup> groups;
  std::int64_t nodes = 0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const core::Fields entry(list[i], fields.where() + ": node_groups[" + std::to_string(i) + "]");
    if (!list[i].IsMap()) entry.fail("nodes", "expected a mapping of node_groups[].* keys");
    const ClusterFieldReader f(entry, S::node_group);
    NodeGroup g;
    g.nodes = f.integer("nodes");
    if (f.has("gpu")) g.gpu = gpu_of(entry, c.calibration ? &*c.calibration : nullptr);
    else if (c.gpu.peak.empty()) f.require("gpu");
    else g.gpu = c.gpu;
    g.intra_node_bandwidth = f.has("intra_node_bandwidth_gbyte_per_s")
                                 ? core::gbyte_per_s(f.number("intra_node_bandwidth_gbyte_per_s"))
                                 : c.intra_node_bandwidth;
    g.nics_per_node = f.integer_or("nics_per_node", c.nics_per_node);
    g.nic_bandwidth = f.has("nic_bandwidth_gbit_per_s") ? core::gbit_per_s(f.number("nic_bandwidth_gbit_per_s"))
                                                        : c.nic_bandwidth;
    if (!(c.memory_reserve < g.gpu.hbm_capacity))
      entry.fail("gpu", "expected a GPU with more memory than the cluster's memory_reserve_gib");
    if (g.gpu.sm_count > 0 && !(c.collective_kernel_sms < static_cast<double>(g.gpu.sm_count)))
      entry.fail("gpu", "expected more SMs than the cluster's collective_kernel_sms");
    nodes += g.nodes;
    if (nodes > kMaxClusterInteger)
      entry.fail("nodes", "expected the groups' nodes to add up to at most 2^20, got more");
    groups.push_back(std::move(g));
  }
  c.nodes = nodes;
  c.gpu = groups.front().gpu;
  c.intra_node_bandwidth = groups.front().intra_node_bandwidth;
  c.nics_per_node = groups.front().nics_per_node;
  c.nic_bandwidth = groups.front().nic_bandwidth;
  if (groups.size() > 1) c.node_groups = std::move(groups);
}

/// Overlays the keys present in `f` onto `c`; `full` requires what a description without a preset must give.
void apply_cluster_fields(ClusterSpec& c, const core::Fields& fields, bool full) {
  const ClusterFieldReader f(fields, S::cluster);
  c.name = f.text_or("name", c.name);
  c.source = f.text_or("source", c.source);
  if (f.has("calibration")) c.calibration = calibration_from_fields(fields.child("calibration"));
  // A mixed cluster may name its GPUs in its groups alone.
  if (f.has("gpu") || (full && !f.has("node_groups"))) c.gpu = gpu_of(fields, c.calibration ? &*c.calibration : nullptr);
  c.nodes = f.integer_or("nodes", c.nodes);
  c.gpus_per_node = f.integer_or("gpus_per_node", c.gpus_per_node);
  if (c.gpus_per_node > kMaxGpusPerNode)
    fields.fail("gpus_per_node", "expected at most " + std::to_string(kMaxGpusPerNode) +
                                     " (the largest NVLink domain built), got " + std::to_string(c.gpus_per_node));
  // Without a preset, one NIC per GPU is the common layout (DGX, HGX).
  c.nics_per_node = f.integer_or("nics_per_node", full ? c.gpus_per_node : c.nics_per_node);
  apply_link_fields(c, f, full);
  c.nodes_per_leaf = f.integer_or("nodes_per_leaf", c.nodes_per_leaf);
  c.fabric_oversubscription = f.number_or("fabric_oversubscription", c.fabric_oversubscription);
  if (f.has("fabric")) apply_fabric_fields(c.fabric, c.nodes_per_leaf, fields.child("fabric"));
  else if (c.fabric.nodes_per_pod > 0 && c.fabric.nodes_per_pod % c.nodes_per_leaf != 0)
    fields.fail("nodes_per_leaf", "expected a divisor of the preset's fabric.nodes_per_pod (" +
                                      std::to_string(c.fabric.nodes_per_pod) + ")");
  c.intra_node_efficiency = efficiency(f, "intra_node_efficiency", c.intra_node_efficiency, full);
  c.inter_node_efficiency = efficiency(f, "inter_node_efficiency", c.inter_node_efficiency, full);
  if (f.has("memory_reserve_gib")) c.memory_reserve = core::gib(f.number("memory_reserve_gib"));
  c.collective_kernel_sms = f.number_or("collective_kernel_sms", c.collective_kernel_sms);
  c.nvls_efficiency = f.number_or("nvls_efficiency", c.nvls_efficiency);
  if (f.has("nvls_latency_us")) c.nvls_latency = core::microseconds(f.number("nvls_latency_us"));
  // A CPU calibration's collectives are MPI calls on the cores, not kernels beside the compute: no share to take
  // (hpsim calibrate writes 0; files it wrote before the key inherit the GPUs' figure otherwise).
  if (c.calibration && c.calibration->backend == "cpu" && !f.has("collective_kernel_sms")) c.collective_kernel_sms = 0;
  // A collective kernel shares the GPU with compute; one taking every SM would stall the compute it overlaps.
  if (c.gpu.sm_count > 0 && !(c.collective_kernel_sms < static_cast<double>(c.gpu.sm_count)))
    fields.fail("collective_kernel_sms", "expected fewer than the GPU's " + std::to_string(c.gpu.sm_count) +
                                             " SMs (a CPU description states 0: its collectives take no SM; recalibrate an older one)");
  if (f.has("node_groups")) apply_node_groups(c, fields, f.has("nodes"));
  check_cluster_gpus(c, fields.where(), f.has("node_groups") ? "node_groups" : "nodes");
  apply_run_fields(c.run, f, c);
  // The base has no GPU yet: the check waits for a description that has one.
  if (c.gpu.hbm_capacity.value() > 0 && !(c.memory_reserve < c.gpu.hbm_capacity))
    fields.fail("memory_reserve_gib", "expected less than the GPU's memory (" +
                                     std::to_string(c.gpu.hbm_capacity.value() / core::gib(1).value()) + " GiB)");
}

/// presets/base.yaml's `cluster` mapping (no GPU): where every cluster, preset or not, starts.
ClusterSpec base_cluster() {
  ClusterSpec c;
  apply_cluster_fields(c, detail::base_fields("cluster"), false);
  return c;
}

/// "name" or "name:nodes" of a cluster preset; errors point at `where`/`field`.
ClusterSpec cluster_preset(const std::string& spec, const std::string& where, const std::string& field) {
  std::string name = spec;
  std::string count;
  if (const auto colon = spec.rfind(':'); colon != std::string::npos) {
    name = spec.substr(0, colon);
    count = spec.substr(colon + 1);
  }
  const auto node = detail::find_preset("cluster", name);
  if (!node)
    throw core::InputError(where, field, "unknown cluster preset '" + name + "' (known: " +
                                             detail::join_names(cluster_preset_names()) +
                                             "; write NAME or NAME:NODES, or give a cluster file)");
  ClusterSpec c = base_cluster();
  apply_cluster_fields(c, core::Fields(*node, detail::preset_where(name)), true);
  if (c.name.empty()) c.name = name;
  if (spec.find(':') != std::string::npos) {
    std::size_t used = 0;
    long long n = 0;
    try {
      n = std::stoll(count, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != count.size() || n < 1)
      throw core::InputError(where, field.empty() ? "nodes" : field,
                             "expected NAME:NODES with a positive node count, got '" + spec + "'");
    c.nodes = n;
    check_cluster_gpus(c, where, field.empty() ? "nodes" : field);
  }
  return c;
}

}  // namespace

ClusterSpec group_cluster(const ClusterSpec& c, std::size_t group) {
  ClusterSpec out = c;
  out.node_groups.clear();
  if (!c.mixed()) return out;
  const NodeGroup& g = c.node_groups.at(group);
  out.gpu = g.gpu;
  out.intra_node_bandwidth = g.intra_node_bandwidth;
  out.nics_per_node = g.nics_per_node;
  out.nic_bandwidth = g.nic_bandwidth;
  return out;
}

std::size_t node_group_of(const ClusterSpec& c, std::int64_t node) {
  std::int64_t end = 0;
  for (std::size_t g = 0; g < c.node_groups.size(); ++g) {
    end += c.node_groups[g].nodes;
    if (node < end) return g;
  }
  return c.node_groups.empty() ? 0 : c.node_groups.size() - 1;
}

ClusterSpec cluster_from_fields(const core::Fields& fields) {
  reject_old_calibration(fields);
  if (fields.has("preset")) {
    ClusterSpec c = cluster_preset(fields.string("preset"), fields.where(), "preset");
    apply_cluster_fields(c, fields, false);
    return c;
  }
  ClusterSpec c = base_cluster();
  apply_cluster_fields(c, fields, true);
  if (c.name.empty()) c.name = "custom-cluster";
  return c;
}

ClusterSpec load_cluster(const std::string& spec) {
  if (core::is_file(spec)) {
    ClusterSpec c = cluster_from_fields(core::Fields(core::load_yaml_file(spec), spec));
    if (c.name == "custom-cluster") c.name = std::filesystem::path(spec).stem().string();
    return c;
  }
  const std::string ext = std::filesystem::path(spec).extension().string();
  if (spec.find('/') != std::string::npos || ext == ".yaml" || ext == ".yml" || ext == ".json")
    throw core::InputError(spec, "", "cannot open the cluster file");
  return cluster_preset(spec, spec, "cluster");
}

std::vector<std::string> cluster_preset_names() { return detail::preset_names("cluster"); }

std::vector<ClusterSpec> cluster_presets() {
  std::vector<ClusterSpec> out;
  for (const auto& name : cluster_preset_names()) out.push_back(load_cluster(name));
  return out;
}

}  // namespace hpsim::topologies
