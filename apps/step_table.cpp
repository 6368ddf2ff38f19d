#include "apps/step_table.hpp"

#include <fmt/format.h>

#include "planner/plan_fields.hpp"

namespace hpsim::apps {

TextTable step_to_table(const planner::StepResult& r, const models::ModelSpec& model,
                        const topologies::ClusterSpec& cluster) {
  TextTable t;
  t.header = {"quantity", "value", "unit"};
  auto row = [&](std::string name, std::string value, std::string unit) {
    t.rows.push_back({std::move(name), std::move(value), std::move(unit)});
  };
  // Full precision for figures a script reads back; the table format rounds for people.
  auto number = [](double v) { return fmt::format("{:.6g}", v); };
  auto seconds = [&](const std::string& name, core::Seconds time) { row(name, number(time.value()), "s"); };
  auto bytes = [&](const std::string& name, core::Bytes b) { row(name, gib(b), "GiB"); };
  row("model", model.name, "");
  row("cluster", cluster_label(cluster), "");
  row("gpus", std::to_string(r.gpus), "");
  for (const auto& f : planner::plan_field_table())
    row("plan." + std::string(f.key), planner::field_value_text(f, f.get(r.plan)), "");
  seconds("step_time", r.step_time);
  row("tokens_per_s", number(r.tokens_per_s), "tokens/s");
  row("mfu", fmt::format("{:.2f}", r.mfu * 100), "%");
  row("model_tflops_per_gpu", number(r.model_tflops_per_gpu), "TFLOP/s");
  row("hardware_tflops_per_gpu", number(r.hardware_tflops_per_gpu), "TFLOP/s");
  const auto& b = r.breakdown;
  seconds("breakdown.compute", b.compute);
  seconds("breakdown.tp_comm_exposed", b.tp_comm_exposed);
  seconds("breakdown.cp_comm_exposed", b.cp_comm_exposed);
  seconds("breakdown.ep_comm_exposed", b.ep_comm_exposed);
  seconds("breakdown.pp_bubble", b.pp_bubble);
  seconds("breakdown.pp_comm_exposed", b.pp_comm_exposed);
  seconds("breakdown.dp_comm_exposed", b.dp_comm_exposed);
  seconds("breakdown.other", b.other);
  const auto& m = r.memory;
  row("memory.peak_stage", std::to_string(m.stage), "");
  bytes("memory.peak_per_gpu", m.peak);
  bytes("memory.usable", m.usable);
  bytes("memory.capacity", m.capacity);
  row("memory.fits", m.fits() ? "true" : "false", "");
  bytes("memory.weights", m.weights);
  bytes("memory.gradients", m.gradients);
  bytes("memory.optimizer", m.optimizer);
  bytes("memory.activations", m.activations);
  bytes("memory.buffers", m.buffers);
  return t;
}

}  // namespace hpsim::apps
