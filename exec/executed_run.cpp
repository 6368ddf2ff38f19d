#include "exec/executed_run.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "core/error.hpp"
#include "planner/pipeline_split.hpp"
#include "planner/plan_fields.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::exec {

namespace {

void require(bool ok, const std::string& field, const std::string& message) {
  if (!ok) throw core::InputError("run", field, message);
}

std::string n(std::int64_t v) { return std::to_string(v); }

/// The executor keeps, for every micro-batch of the step and every model chunk, its output activation and the
/// gradient flowing back (the rank's residual stream each: Trainer's Micro), so their memory grows with the global
/// batch. Refused, the same on every rank before any allocation, when it alone exceeds this host's memory.
void check_batch_buffers(const models::ModelSpec& model, const planner::Plan& plan) {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0 || plan.micro_batch_size <= 0) return;
  const double host_bytes = static_cast<double>(pages) * static_cast<double>(page);
  const double tokens = static_cast<double>(plan.micro_batch_size * plan.seq_length) /
                        static_cast<double>(plan.cp * (plan.sp && plan.tp > 1 ? plan.tp : 1));
  const double bytes = static_cast<double>(plan.micro_batches()) * static_cast<double>(plan.vpp) * 2 * tokens *
                       static_cast<double>(model.hidden_size) * sizeof(float);
  if (bytes > host_bytes)
    throw core::InputError("run", "global_batch_size",
                           fmt::format("{} micro-batches per pipeline: the executor keeps two activation buffers per "
                                       "micro-batch, {:.1f} GiB per rank, more than this machine's {:.1f} GiB; expected "
                                       "a smaller global batch (or a larger micro_batch_size)",
                                       plan.micro_batches(), bytes / 1073741824.0, host_bytes / 1073741824.0));
}

/// The executor's own limits, beyond the planner's rules.
void check_executor_limits(const models::ModelSpec& model, const planner::Plan& plan) {
  const std::int64_t kv_heads = model.num_kv_heads > 0 ? model.num_kv_heads : model.num_heads;
  const std::int64_t ffn = model.ffn_hidden_size > 0 ? model.ffn_hidden_size : 4 * model.hidden_size;
  require(!model.is_moe(), "model", "the executor runs dense models only (no MoE yet)");
  // GPT- and LLaMA-style decoders only: no MLA, no head width of its own, no GeGLU or squared ReLU, no encoder.
  require(!model.is_mla() && !model.encoder && model.type_vocab_size == 0, "model",
          "the executor runs decoders with standard attention only (no MLA, no BERT-style encoder)");
  require(model.attention_head_dim == 0 || model.attention_head_dim * model.num_heads == model.hidden_size, "model",
          "the executor needs head_dim = hidden_size / num_attention_heads (" + n(model.head_dim()) + " given)");
  require(model.mlp == models::MlpKind::gelu || model.mlp == models::MlpKind::swiglu, "model",
          "the executor runs GELU and SwiGLU MLPs only");
  require(model.num_heads % kv_heads == 0, "model",
          "heads (" + n(model.num_heads) + ") must divide by the key/value heads (" + n(kv_heads) + ")");
  require(model.hidden_size % model.num_heads == 0, "model",
          "hidden size (" + n(model.hidden_size) + ") must divide by heads (" + n(model.num_heads) + ")");
  require(model.position != models::PositionKind::rope || model.head_dim() % 2 == 0, "model",
          "rotary positions need an even head dimension (" + n(model.head_dim()) + ")");
  require(model.vocab_size % plan.tp == 0, "tp", "vocab (" + n(model.vocab_size) + ") must divide by tp");
  require(ffn % plan.tp == 0, "tp", "ffn hidden size (" + n(ffn) + ") must divide by tp");
  if (plan.cp > 1)
    require(plan.seq_length % (2 * plan.cp) == 0, "cp",
            "context parallelism splits each sequence in 2 cp = " + n(2 * plan.cp) + " chunks: the sequence length (" +
                n(plan.seq_length) + ") must divide by it");
  require(plan.ep == 1, "ep", "expert parallelism is not implemented in the executor");
  require(plan.zero <= 1, "zero", "the executor implements ZeRO 0 and 1 only");
  require(plan.parameter_servers == 0, "parameter_servers", "parameter servers are not implemented in the executor");
  require(model.num_layers % (plan.pp * plan.vpp) == 0 && planner::PipelineSplit(plan, model.num_layers).even(), "pp",
          "the executor splits the layers evenly: pp*vpp (" + n(plan.pp * plan.vpp) + ") must divide the " +
              n(model.num_layers) + " layers, with no uneven split key");
  check_batch_buffers(model, plan);
}

}  // namespace

planner::Plan ExecutedRun::prediction_plan() const {
  planner::Plan p = plan;
  p.overlap_grad_reduce = p.overlap_grad_reduce && reduction_overlaps_compute;
  return p;
}

planner::Plan resolve_run_plan(const models::ModelSpec& model, planner::Plan plan, int world_size) {
  topologies::ClusterSpec ranks;  // the MPI world, as far as the planner's rules see a cluster: its size
  ranks.nodes = 1;
  ranks.gpus_per_node = world_size;
  // The rank count first: a plan made for another world is the likeliest mistake, and says how to launch it.
  const std::int64_t model_parallel = plan.tp * plan.pp * plan.cp;
  require(plan.dp != 0 || (model_parallel > 0 && world_size % model_parallel == 0), "dp",
          "the MPI world has " + n(world_size) + " ranks, not a multiple of tp*pp*cp = " + n(model_parallel));
  require(plan.dp == 0 || plan.gpus() == world_size, "ranks",
          "the plan needs " + n(plan.gpus()) + " ranks (tp " + n(plan.tp) + " x pp " + n(plan.pp) + " x dp " +
              n(plan.dp) + " x cp " + n(plan.cp) + ") but the MPI world has " + n(world_size) +
              "; run it with mpirun -np " + n(plan.gpus()));
  const planner::Plan given = plan;
  const planner::Rule rule = planner::check_plan(plan, model, ranks);
  if (rule != planner::Rule::ok) {
    const auto breach = planner::explain(rule, plan.dp == 0 ? given : plan, model, ranks);
    throw core::InputError("run", breach.field, breach.message);
  }
  check_executor_limits(model, plan);
  return plan;
}

ExecutedRun executed_run(const models::ModelSpec& model, const planner::Plan& requested, int world_size,
                         const std::string& backend) {
  ExecutedRun r;
  r.model = model;
  r.model.dropout = false;
  if (model.dropout) r.notes.push_back("dropout: not applied");
  if (model.position == models::PositionKind::rope) r.notes.push_back("rope: rotary base 10000");
  const planner::Plan asked = resolve_run_plan(model, requested, world_size);
  planner::Plan& p = r.plan = asked;
  if (backend == "cpu") p.precision = topologies::Precision::fp32;
  else if (p.precision == topologies::Precision::fp8) p.precision = topologies::Precision::bf16;
  p.flash_attention = false;
  p.tp_comm_overlap = false;
  p.cp_comm_overlap = false;
  p.overlap_param_gather = false;
  // A note for each field that ran differently, where it matters to this plan.
  struct Difference {
    planner::PlanKey key;
    bool matters;
    const char* why;
  };
  const Difference differences[] = {
      {planner::PlanKey::precision, true,
       backend == "cpu" ? "the cpu backend computes in fp32" : "the cuda backend has no fp8 GEMMs"},
      {planner::PlanKey::flash_attention, true, "the attention core runs unfused, its scores in memory"},
      {planner::PlanKey::tp_comm_overlap, p.tp > 1, "TP communication is blocking"},
      {planner::PlanKey::cp_comm_overlap, p.cp > 1, "keys and values are all-gathered before the attention, blocking"},
      {planner::PlanKey::overlap_param_gather, p.zero >= 1 && p.dp * p.cp > 1,
       "ZeRO-1's parameter all-gather follows the optimizer step"}};
  for (const auto& d : differences) {
    const auto& f = planner::plan_field(d.key);
    if (d.matters && f.get(asked) != f.get(p))
      r.notes.push_back(std::string(f.key) + ": ran " + planner::field_value_text(f, f.get(p)) + ", not " +
                        planner::field_value_text(f, f.get(asked)) + " (" + d.why + ")");
  }
  r.reduction_overlaps_compute = backend != "cpu";
  if (!r.reduction_overlaps_compute && p.overlap_grad_reduce && p.dp * p.cp > 1)
    r.notes.push_back("overlap_grad_reduce: predicted exposed (MPI progresses only when polled between layers)");
  return r;
}

}  // namespace hpsim::exec
