#include "apps/catalog_command.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/formulas.hpp"
#include "models/model_fields.hpp"
#include "models/model_spec.hpp"
#include "planner/plan_fields.hpp"
#include "topologies/cluster_fields.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::apps {

std::string models_text(Format format) {
  TextTable t;
  t.header = {"model", "params (B)", "layers", "hidden", "heads", "kv heads", "ffn", "vocab", "seq", "experts"};
  nlohmann::json j = nlohmann::json::array();
  for (const auto& m : models::model_presets()) {
    const double params = static_cast<double>(models::total_parameters(m)) / 1e9;
    t.rows.push_back({m.name, fmt::format("{:.2f}", params), std::to_string(m.num_layers),
                      std::to_string(m.hidden_size), std::to_string(m.num_heads), std::to_string(m.num_kv_heads),
                      std::to_string(m.ffn_hidden_size), std::to_string(m.vocab_size), std::to_string(m.seq_length),
                      m.is_moe() ? fmt::format("{} top-{}", m.num_experts, m.experts_per_token) : "-"});
    j.push_back({{"name", m.name}, {"parameters", models::total_parameters(m)}, {"num_hidden_layers", m.num_layers},
                 {"hidden_size", m.hidden_size}, {"num_attention_heads", m.num_heads},
                 {"num_key_value_heads", m.num_kv_heads}, {"intermediate_size", m.ffn_hidden_size},
                 {"vocab_size", m.vocab_size}, {"seq_length", m.seq_length}, {"num_local_experts", m.num_experts},
                 {"num_experts_per_tok", m.experts_per_token}, {"source", m.source}});
  }
  return format == Format::json ? j.dump(2) + "\n" : t.render(format);
}

std::string clusters_text(Format format) {
  TextTable t;
  t.header = {"cluster", "gpu", "gpus/node", "peak bf16 TFLOP/s", "HBM GiB", "HBM GB/s", "NVLink GB/s",
              "NICs x Gb/s", "oversub."};
  nlohmann::json j = nlohmann::json::array();
  for (const auto& c : topologies::cluster_presets()) {
    const auto peak = c.gpu.peak_for(topologies::Precision::bf16).value() / 1e12;
    t.rows.push_back({c.name, c.gpu.name, std::to_string(c.gpus_per_node), fmt::format("{:.0f}", peak),
                      gib(c.gpu.hbm_capacity), fmt::format("{:.0f}", c.gpu.hbm_bandwidth.value() / 1e9),
                      fmt::format("{:.0f}", c.intra_node_bandwidth.value() / 1e9),
                      fmt::format("{} x {:.0f}", c.nics_per_node, c.nic_bandwidth.value() * 8 / 1e9),
                      fmt::format("{:g}", c.fabric_oversubscription)});
    j.push_back({{"name", c.name}, {"gpu", c.gpu.name}, {"gpus_per_node", c.gpus_per_node},
                 {"peak_bf16_flops", peak * 1e12}, {"hbm_bytes", c.gpu.hbm_capacity.value()},
                 {"hbm_bandwidth_bytes_per_s", c.gpu.hbm_bandwidth.value()},
                 {"intra_node_bandwidth_bytes_per_s", c.intra_node_bandwidth.value()},
                 {"nics_per_node", c.nics_per_node}, {"nic_bandwidth_bytes_per_s", c.nic_bandwidth.value()},
                 {"fabric_oversubscription", c.fabric_oversubscription}, {"source", c.source}});
  }
  if (format == Format::json) return j.dump(2) + "\n";
  return t.render(format) +
         (format == Format::table ? "\nuse NAME:NODES (e.g. dgx-a100-80gb:128) for a cluster of NODES nodes\n" : "");
}

std::string plan_keys_text(Format format) {
  TextTable t;
  t.header = {"key", "flag", "values", "default", "planner", "meaning"};
  nlohmann::json j = nlohmann::json::array();
  for (const auto& f : planner::plan_field_table()) {
    const std::string role = !f.searched                  ? "fixed (the flag sets it)"
                             : f.search_default.empty() ? "searched"
                                                        : "searched (unless pinned: " + std::string(f.search_default) + ")";
    t.rows.push_back({std::string(f.key), std::string(f.flag), planner::field_expectation(f),
                      std::string(f.default_text), role, std::string(f.help)});
    j.push_back({{"key", f.key}, {"flag", f.flag}, {"values", planner::field_expectation(f)},
                 {"default", f.default_text}, {"searched", f.searched}, {"search_default", f.search_default},
                 {"megatron_flag", f.megatron_flag}, {"help", f.help}});
  }
  const auto& list = planner::pipeline_layers_field();
  t.rows.push_back({std::string(list.key), "-", std::string(list.values), std::string(list.default_text),
                    "chosen on a mixed cluster (plan files only)", std::string(list.help)});
  j.push_back({{"key", list.key}, {"flag", ""}, {"values", list.values}, {"default", list.default_text},
               {"searched", false}, {"search_default", ""}, {"megatron_flag", ""}, {"help", list.help}});
  return format == Format::json ? j.dump(2) + "\n" : t.render(format);
}

std::string model_keys_text(Format format) {
  TextTable t;
  t.header = {"key", "also read as", "values", "default", "meaning"};
  nlohmann::json j = nlohmann::json::array();
  for (const auto& f : models::model_field_table()) {
    std::string aliases;
    for (const auto a : f.aliases) aliases += (aliases.empty() ? "" : ", ") + std::string(a);
    t.rows.push_back({std::string(f.key), aliases.empty() ? "-" : aliases, std::string(f.values),
                      std::string(f.default_text), std::string(f.help)});
    j.push_back({{"key", f.key}, {"aliases", aliases}, {"values", f.values}, {"default", f.default_text},
                 {"help", f.help}});
  }
  return format == Format::json ? j.dump(2) + "\n" : t.render(format);
}

std::string cluster_keys_text(Format format) {
  TextTable t;
  t.header = {"key", "values", "unit", "default", "meaning"};
  nlohmann::json j = nlohmann::json::array();
  for (const auto& f : topologies::cluster_field_table()) {
    const std::string path = topologies::cluster_field_path(f), values = topologies::cluster_field_values(f),
                      def = topologies::cluster_field_default(f);
    t.rows.push_back({path, values, f.unit.empty() ? "-" : std::string(f.unit), def, std::string(f.help)});
    j.push_back({{"key", path}, {"values", values}, {"unit", f.unit}, {"default", def}, {"help", f.help}});
  }
  return format == Format::json ? j.dump(2) + "\n" : t.render(format);
}

}  // namespace hpsim::apps
