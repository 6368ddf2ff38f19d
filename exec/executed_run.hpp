#pragma once
/// What the executor really runs for a model and a plan: the one description that `hpsim run` both trains and
/// predicts, so that the prediction is of what ran.
#include <string>
#include <vector>

#include "models/model_spec.hpp"
#include "planner/plan.hpp"

namespace hpsim::exec {

struct ExecutedRun {
  models::ModelSpec model;         ///< as trained: the given model (tied head or not, as it says), dropout off
  planner::Plan plan;              ///< resolved; every field as the executor runs it (precision, overlaps, fusion)
  std::vector<std::string> notes;  ///< each field or model setting run differently from what was asked, and why
  /// Whether the gradient reduction can run while the backward computes: on a GPU NCCL runs on its own stream; on
  /// the CPU the cores move the data themselves and MPI progresses only when polled between layers.
  bool reduction_overlaps_compute = true;

  /// The plan to predict: `plan`, with the gradient reduction exposed where it cannot overlap.
  [[nodiscard]] planner::Plan prediction_plan() const;
};

/// Fills dp (from the world size when 0) and seq_length, and checks the plan with the planner's own rules (against
/// `world_size` ranks, which the plan must use exactly) and the executor's limits (dense models, ZeRO 0 and 1, no
/// parameter servers, vocab and ffn divisible by tp, the sequence by 2 cp). Throws core::InputError naming the field.
planner::Plan resolve_run_plan(const models::ModelSpec& model, planner::Plan plan, int world_size);

/// The run of `plan` on `world_size` ranks of `backend` (cpu or cuda): resolve_run_plan, then the fields the
/// executor runs differently (cpu: fp32; cuda: fp8 runs bf16; attention unfused; TP and CP communication and the
/// ZeRO parameter gather blocking), each with a note.
ExecutedRun executed_run(const models::ModelSpec& model, const planner::Plan& plan, int world_size,
                         const std::string& backend);

}  // namespace hpsim::exec
