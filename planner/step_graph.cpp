#include "planner/step_graph.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <utility>

#include "core/error.hpp"
#include "planner/pipeline_schedule.hpp"
#include "planner/rank_layout.hpp"

namespace hpsim::planner {

using core::Seconds;
using core::to_time;
using sim::TaskId;

const sim::Vocabulary& step_vocabulary() {
  static const sim::Vocabulary v{{"compute", "tp_comm", "pp_comm", "dp_comm"},
                                 {"compute", "recompute", "tp_comm", "cp_comm", "ep_comm", "pp_comm", "dp_comm",
                                  "optimizer", "other"}};
  return v;
}

std::string_view to_string(Category c) { return step_vocabulary().categories[static_cast<std::size_t>(c)]; }

namespace {

constexpr TaskId kNone = static_cast<TaskId>(-1);

/// A task's name, formatted only when the graph keeps names (for a trace): "forward mb3 chunk5 bucket1".
struct Name {
  const char* what;
  std::int64_t micro_batch = -1, chunk = -1, bucket = -1;
};

/// Builds the tasks of one simulated rank; collective tasks are recorded so that full mode can synchronize them.
class RankBuilder {
 public:
  RankBuilder(sim::TaskGraph& g, bool named, std::int32_t rank, std::int64_t stage, double collective_share,
              double slowdown)
      : g_(g), named_(named), unnamed_(g.label("")), rank_(rank), stage_(stage), collective_share_(collective_share),
        slowdown_(slowdown) {}

  /// Adds a task after `after`; returns it.
  TaskId add(Stream stream, Category category, const Name& name, Seconds duration,
             std::initializer_list<TaskId> after, const char* suffix = nullptr) {
    // A slow GPU computes slower; its communication moves the same bytes over the same links.
    const Seconds time = stream == Stream::compute ? duration * slowdown_ : duration;
    const TaskId id = g_.add(rank_, static_cast<sim::StreamId>(stream), static_cast<sim::CategoryId>(category),
                             label(name, suffix), to_time(time));
    for (TaskId a : after)
      if (a != kNone) g_.depend(id, a);
    if (stream == Stream::tp_comm) tp_tasks_.push_back(id);
    if (stream == Stream::dp_comm) {
      dp_tasks_.push_back(id);
      // A data-parallel collective overlaps the rank's compute and takes its kernel's SMs from it meanwhile.
      if (collective_share_ > 0) g_.set_processor_share(id, collective_share_);
    }
    return id;
  }

  /// Compute work followed by its exposed communication; the rank's next compute waits for all of it.
  TaskId pass(Category category, const Name& name, Seconds compute,
              std::initializer_list<std::pair<Category, Seconds>> comms, std::initializer_list<TaskId> after) {
    TaskId tail = add(Stream::compute, category, name, compute, after);
    if (blocking_ != kNone) g_.depend(tail, blocking_);
    for (const auto& [cat, t] : comms)
      if (t.value() > 0) tail = add(Stream::tp_comm, cat, name, t, {tail}, to_string(cat).data());
    blocking_ = tail;
    return tail;
  }

  /// The compute stream waits (no work) until every task of `after` has finished; the rank's next compute too.
  TaskId wait(Category category, const Name& name, std::initializer_list<TaskId> after) {
    const TaskId id = add(Stream::compute, category, name, Seconds(0), after);
    blocking_ = id;
    return id;
  }

  void block_on(TaskId t) { blocking_ = t; }
  [[nodiscard]] TaskId blocking() const { return blocking_; }
  [[nodiscard]] std::int32_t rank() const { return rank_; }
  [[nodiscard]] std::int64_t stage() const { return stage_; }
  std::vector<TaskId> tp_tasks_, dp_tasks_;

 private:
  std::uint32_t label(const Name& n, const char* suffix) {
    if (!named_) return unnamed_;  // names cost more than simulating; only traces need them
    std::string s = n.what;
    if (n.micro_batch >= 0) s += " mb" + std::to_string(n.micro_batch);
    if (n.chunk >= 0) s += " chunk" + std::to_string(n.chunk);
    if (n.bucket >= 0) s += " bucket" + std::to_string(n.bucket);
    if (suffix) s += std::string(" ") + suffix;
    return g_.label(s);
  }

  sim::TaskGraph& g_;
  bool named_;
  std::uint32_t unnamed_;
  std::int32_t rank_;
  std::int64_t stage_;
  double collective_share_;
  double slowdown_;  ///< this GPU's compute time / a healthy GPU's
  TaskId blocking_ = kNone;
};

/// Lowers one step: the phases of build_step_graph, sharing the plan's shape and the per-pass bookkeeping.
class StepLowering {
 public:
  StepLowering(const StepCosts& costs, const Plan& plan, RankMode mode, bool named, std::span<const double> slowdown,
               StepGraph& out)
      : costs_(costs), plan_(plan), mode_(mode), named_(named), slowdown_(slowdown), out_(out), g_(out.graph), p_(plan.pp), v_(plan.vpp),
        m_(plan.micro_batches()), stages_(p_ * v_), layout_(plan),
        lanes_(mode == RankMode::full ? plan.tp * plan.cp * plan.dp : 1),  // representative mode: lane 0 only
        sharded_params_(plan.zero >= 3 && !plan.fsdp_holds_stage_unsharded()),
        sharded_grads_(plan.zero >= 2 && !plan.fsdp_holds_stage_unsharded()),
        gathers_once_(plan.zero >= 1 && !sharded_params_), dp_comm_(plan.dp * plan.cp > 1) {}

  void run() {
    refuse_oversized();
    make_builders();
    gather_parameters_at_start();
    walk_schedules();
    for (auto& rb : builders_) end_of_step(rb);
    if (mode_ == RankMode::full) synchronize_collectives();
  }

 private:
  /// Every simulated rank runs 2*m*v passes of a few tasks each; refuse what would not fit in memory rather than
  /// thrash (full mode is a cross-check for small clusters; the representative mode gives the same step time).
  void refuse_oversized() const {
    constexpr double kMaxTasks = 5e7;
    const double estimated_tasks = static_cast<double>(lanes_ * p_) * static_cast<double>(2 * m_ * v_) * 6.0;
    const std::string millions = std::to_string(static_cast<long long>(estimated_tasks / 1e6));
    if (estimated_tasks > kMaxTasks && mode_ == RankMode::full)
      throw core::InputError("simulate", "rank mode",
                             "full (every GPU): simulating every one of " + std::to_string(lanes_ * p_) + " ranks would take about " +
                                 millions + " M tasks; use the default representative mode (same step time) or a "
                                 "smaller cluster");
    if (estimated_tasks > kMaxTasks)
      throw core::InputError("plan", "global_batch_size",
                             std::to_string(m_) + " micro-batches per pipeline make about " + millions +
                                 " M tasks to simulate; expected a global batch of at most a few hundred thousand "
                                 "micro-batches per pipeline");
  }

  void make_builders() {
    const auto slots = static_cast<std::size_t>(lanes_ * stages_ * m_);
    fwd_done_.assign(slots, kNone);
    bwd_done_.assign(slots, kNone);
    fwd_compute_.assign(slots, kNone);
    builders_.reserve(static_cast<std::size_t>(lanes_ * p_));
    for (std::int64_t lane = 0; lane < lanes_; ++lane)
      for (std::int64_t s = 0; s < p_; ++s) {
        const std::int64_t global = lane + lanes_ * s;  // = layout.rank() in full mode (tp fastest, pp slowest)
        const auto rank = static_cast<std::int32_t>(mode_ == RankMode::full ? global : s);
        const double slowdown = slowdown_.empty() ? 1.0 : slowdown_[static_cast<std::size_t>(global)];
        builders_.emplace_back(g_, named_, rank, s, costs_.collective_processor_share, slowdown);
        g_.set_rank_name(rank, mode_ == RankMode::full ? "rank " + std::to_string(global) + " (" + stage_name(s) + ")"
                                                       : stage_name(s));
        out_.stage_of_rank.push_back(s);
      }
    const auto chunks = builders_.size() * static_cast<std::size_t>(v_);
    backwards_left_.assign(chunks, m_);
    chunk_gather_.assign(chunks, kNone);
    last_grad_task_.assign(builders_.size(), kNone);
  }

  /// "stage 3", and its layer count when the pipeline split is uneven ("stage 0, 15 layers").
  [[nodiscard]] std::string stage_name(std::int64_t s) const {
    std::string name = "stage " + std::to_string(s);
    std::int64_t layers = 0;
    bool uneven = false;
    for (const auto& c : costs_.chunks) uneven = uneven || c.layers != costs_.chunks.front().layers;
    for (std::int64_t c = 0; c < v_; ++c) layers += chunk(c * p_ + s).layers;
    return uneven ? name + ", " + std::to_string(layers) + " layers" : name;
  }

  /// fwd_done / bwd_done[lane][vs][mb]: the task the next virtual stage waits for (the send, or the pass's tail).
  [[nodiscard]] std::size_t slot(std::int64_t lane, std::int64_t vs, std::int64_t mb) const {
    return static_cast<std::size_t>((lane * stages_ + vs) * m_ + mb);
  }
  [[nodiscard]] const ChunkCost& chunk(std::int64_t vs) const { return costs_.chunks[static_cast<std::size_t>(vs)]; }
  /// The bytes of a chunk's weights data parallelism gathers: its layers' as the plan gathers them (FP8 with
  /// fp8_param_gather), the embedding and LM head 16-bit.
  [[nodiscard]] double gathered_bytes(const ChunkCost& cc) const {
    return (cc.parameters - cc.end_parameters) * costs_.bytes.gathered_layer_weight +
           cc.end_parameters * costs_.bytes.weight;
  }
  [[nodiscard]] Seconds param_gather_time(const ChunkCost& cc) const {
    return costs_.param_gather.time(core::Bytes(gathered_bytes(cc)));
  }
  /// ZeRO-3/FSDP gathers (ZeRO-2/3 reduce-scatters) a chunk unit by unit: one collective per unit.
  [[nodiscard]] static Seconds per_unit(const CollectiveChoice& op, const ChunkCost& cc, double bytes) {
    const double units = static_cast<double>(cc.units);
    return op.time(core::Bytes(bytes / units)) * units;
  }

  /// ZeRO-3's gathers around one pass: the first unit's gather must finish before the pass starts; the others
  /// are prefetched one unit ahead on the data-parallel stream while the pass computes, and the pass cannot end
  /// before the last of them (a unit computes only once gathered). Returns the task the pass waits for and the
  /// one it must not end before.
  std::pair<TaskId, TaskId> gather_units(RankBuilder& rb, const ChunkCost& cc, Name first, Name rest) {
    const Seconds all = per_unit(costs_.param_gather, cc, gathered_bytes(cc));
    const Seconds one = all / static_cast<double>(cc.units);
    const TaskId head = rb.add(Stream::dp_comm, Category::dp_comm, first, one, {});
    const TaskId tail = cc.units > 1 ? rb.add(Stream::dp_comm, Category::dp_comm, rest, all - one, {head}) : kNone;
    return {head, tail};
  }

  /// ZeRO-1/2 with overlapped parameter gathering: this step's forward waits for the weights the previous
  /// optimizer step produced, gathered per chunk at the start of the step.
  void gather_parameters_at_start() {
    if (!(gathers_once_ && dp_comm_ && plan_.overlap_param_gather)) return;
    for (std::size_t b = 0; b < builders_.size(); ++b)
      for (std::int64_t c = 0; c < v_; ++c) {
        const std::int64_t vs = c * p_ + builders_[b].stage();
        chunk_gather_[b * static_cast<std::size_t>(v_) + static_cast<std::size_t>(c)] =
            builders_[b].add(Stream::dp_comm, Category::dp_comm, Name{"param all-gather", -1, vs},
                             param_gather_time(chunk(vs)), {});
      }
  }

  /// Per rank, in schedule order. Passes of different ranks depend on each other through send tasks, which are
  /// created in the sender's order; so build rank by rank in a global order that respects dependencies: walk the
  /// ranks round-robin, advancing each as far as its dependencies allow.
  void walk_schedules() {
    std::vector<std::vector<PipelinePass>> orders(static_cast<std::size_t>(p_));
    for (std::int64_t s = 0; s < p_; ++s) orders[static_cast<std::size_t>(s)] = pipeline_order(plan_.schedule, p_, v_, m_, s);
    std::vector<std::size_t> next(builders_.size(), 0);
    std::size_t remaining = 0;
    for (const auto& rb : builders_) remaining += orders[static_cast<std::size_t>(rb.stage())].size();
    for (bool progress = true; remaining > 0;) {
      if (!progress) throw std::logic_error("pipeline schedule deadlock while lowering the step");
      progress = false;
      for (std::size_t b = 0; b < builders_.size(); ++b) {
        const auto& order = orders[static_cast<std::size_t>(builders_[b].stage())];
        while (next[b] < order.size()) {
          const PipelinePass& pass = order[next[b]];
          if (!(pass.forward ? forward(b, pass) : backward(b, pass))) break;  // waits for another stage
          ++next[b];
          --remaining;
          progress = true;
        }
      }
    }
  }

  /// One forward pass; false when the previous virtual stage has not produced its input yet.
  bool forward(std::size_t b, const PipelinePass& pass) {
    RankBuilder& rb = builders_[b];
    const std::int64_t s = rb.stage(), lane = static_cast<std::int64_t>(b) / p_, vs = pass.chunk * p_ + s;
    const auto& cc = chunk(vs);
    const TaskId from = vs > 0 ? fwd_done_[slot(lane, vs - 1, pass.micro_batch)] : kNone;
    if (vs > 0 && from == kNone) return false;
    TaskId gather = pass.micro_batch == 0 ? chunk_gather_[b * static_cast<std::size_t>(v_) + pass.chunk] : kNone;
    TaskId gathered = kNone;
    if (sharded_params_ && dp_comm_)  // ZeRO-3 gathers the chunk's weights before every use
      std::tie(gather, gathered) = gather_units(rb, cc, Name{"param all-gather", pass.micro_batch, vs},
                                                Name{"param all-gather (prefetch)", pass.micro_batch, vs});
    TaskId tail = rb.pass(Category::compute, Name{"forward", pass.micro_batch, vs}, cc.forward,
                          {{Category::tp_comm, cc.forward_tp}, {Category::cp_comm, cc.forward_cp},
                           {Category::ep_comm, cc.forward_ep}},
                          {from, gather});
    if (gathered != kNone) tail = rb.wait(Category::dp_comm, Name{"wait for gathered weights", pass.micro_batch, vs}, {tail, gathered});
    fwd_compute_[slot(lane, vs, pass.micro_batch)] = tail;
    if (vs + 1 < stages_) {
      tail = rb.add(Stream::pp_comm, Category::pp_comm, Name{"send activations", pass.micro_batch, vs},
                    costs_.pp_send[static_cast<std::size_t>(s)], {tail});
      rb.block_on(tail);  // Megatron waits for its point-to-point operations before going on
    }
    fwd_done_[slot(lane, vs, pass.micro_batch)] = tail;
    return true;
  }

  /// One backward pass (with its recomputation and gradient reduction); false when its input is not ready yet.
  bool backward(std::size_t b, const PipelinePass& pass) {
    RankBuilder& rb = builders_[b];
    const std::int64_t s = rb.stage(), lane = static_cast<std::int64_t>(b) / p_, vs = pass.chunk * p_ + s;
    const auto& cc = chunk(vs);
    const TaskId from = vs + 1 < stages_ ? bwd_done_[slot(lane, vs + 1, pass.micro_batch)] : kNone;
    if (vs + 1 < stages_ && from == kNone) return false;
    const TaskId own_forward = fwd_compute_[slot(lane, vs, pass.micro_batch)];
    TaskId gather = kNone, gathered = kNone;
    if (sharded_params_ && dp_comm_)  // the backward (and its recomputation) gathers the weights again
      std::tie(gather, gathered) = gather_units(rb, cc, Name{"param all-gather (bwd)", pass.micro_batch, vs},
                                                Name{"param all-gather (bwd prefetch)", pass.micro_batch, vs});
    if (cc.recompute.value() > 0)
      rb.pass(Category::recompute, Name{"recompute", pass.micro_batch, vs}, cc.recompute,
              {{Category::tp_comm, cc.recompute_tp}}, {from, own_forward, gather});
    const bool last_of_chunk = --backwards_left_[b * static_cast<std::size_t>(v_) + pass.chunk] == 0;
    TaskId tail = last_of_chunk && dp_comm_ && plan_.overlap_grad_reduce && !sharded_grads_
                      ? backward_in_buckets(b, pass, vs, {from, own_forward, gather})
                      : backward_whole(b, pass, vs, {from, own_forward, gather});
    if (gathered != kNone) tail = rb.wait(Category::dp_comm, Name{"wait for gathered weights", pass.micro_batch, vs}, {tail, gathered});
    if (vs > 0) {
      tail = rb.add(Stream::pp_comm, Category::pp_comm, Name{"send gradients", pass.micro_batch, vs},
                    costs_.pp_send[static_cast<std::size_t>((s + p_ - 1) % p_)], {tail});
      rb.block_on(tail);
    }
    bwd_done_[slot(lane, vs, pass.micro_batch)] = tail;
    return true;
  }

  /// The last backward of a chunk when the reduction overlaps it: buckets fill as the backward proceeds, and each
  /// is reduced while the rest of the backward runs.
  TaskId backward_in_buckets(std::size_t b, const PipelinePass& pass, std::int64_t vs,
                             std::initializer_list<TaskId> after) {
    RankBuilder& rb = builders_[b];
    const auto& cc = chunk(vs);
    const core::Bytes chunk_grads(cc.parameters * costs_.bytes.gradient);
    const std::int64_t buckets = gradient_buckets(costs_, cc);
    TaskId tail = kNone;
    for (std::int64_t k = 0; k < buckets; ++k) {
      const bool last_bucket = k + 1 == buckets;
      const TaskId piece = rb.pass(
          Category::compute, Name{"backward", pass.micro_batch, vs, k}, cc.backward / static_cast<double>(buckets),
          last_bucket ? std::initializer_list<std::pair<Category, Seconds>>{{Category::tp_comm, cc.backward_tp},
                                                                            {Category::cp_comm, cc.backward_cp},
                                                                            {Category::ep_comm, cc.backward_ep}}
                      : std::initializer_list<std::pair<Category, Seconds>>{},
          after);
      last_grad_task_[b] = rb.add(Stream::dp_comm, Category::dp_comm, Name{"gradient reduce", -1, vs, k},
                                  costs_.grad_reduce.time(chunk_grads / static_cast<double>(buckets)), {piece});
      tail = piece;
    }
    return tail;
  }

  /// A backward in one piece. ZeRO-2/3 keep no full gradient buffer, so every micro-batch's gradients are
  /// reduce-scattered unit by unit as the backward produces them: all but the last unit's while it runs (queued
  /// behind its gathers on the data-parallel stream), the last unit's after it.
  TaskId backward_whole(std::size_t b, const PipelinePass& pass, std::int64_t vs, std::initializer_list<TaskId> after) {
    RankBuilder& rb = builders_[b];
    const auto& cc = chunk(vs);
    const TaskId tail = rb.pass(Category::compute, Name{"backward", pass.micro_batch, vs}, cc.backward,
                                {{Category::tp_comm, cc.backward_tp}, {Category::cp_comm, cc.backward_cp},
                                 {Category::ep_comm, cc.backward_ep}},
                                after);
    if (!(sharded_grads_ && dp_comm_)) return tail;
    const Seconds all = per_unit(costs_.grad_reduce, cc, cc.parameters * costs_.bytes.gradient);
    const Seconds one = all / static_cast<double>(cc.units);
    if (cc.units > 1)
      rb.add(Stream::dp_comm, Category::dp_comm, Name{"gradient reduce-scatter (overlapped)", pass.micro_batch, vs},
             all - one, after);
    last_grad_task_[b] = rb.add(Stream::dp_comm, Category::dp_comm,
                                Name{"gradient reduce-scatter", pass.micro_batch, vs}, one, {tail});
    return tail;
  }

  /// End of step: gradient reduction not overlapped, the optimizer, and ZeRO's weight gathering.
  void end_of_step(RankBuilder& rb) {
    const std::int64_t s = rb.stage();
    const auto b = static_cast<std::size_t>(&rb - builders_.data());
    double params = 0, experts = 0;
    for (std::int64_t c = 0; c < v_; ++c) {
      params += chunk(c * p_ + s).parameters;
      experts += chunk(c * p_ + s).expert_parameters;
    }
    TaskId grads_ready = last_grad_task_[b];
    if (dp_comm_ && !plan_.overlap_grad_reduce && !sharded_params_)
      for (std::int64_t c = v_ - 1; c >= 0; --c)
        grads_ready = rb.add(Stream::dp_comm, Category::dp_comm, Name{"gradient reduce", -1, c * p_ + s},
                             costs_.grad_reduce.time(core::Bytes(chunk(c * p_ + s).parameters * costs_.bytes.gradient)),
                             {rb.blocking()});
    if (costs_.embedding_sync.value() > 0 && (s == 0 || s == p_ - 1))
      grads_ready = rb.add(Stream::dp_comm, Category::dp_comm, Name{"embedding gradient all-reduce"},
                           costs_.embedding_sync, {grads_ready, rb.blocking()});
    const TaskId opt = rb.pass(Category::optimizer, Name{"optimizer step"}, optimizer_step_time(costs_, plan_, params, experts), {},
                               {grads_ready});
    if (!(gathers_once_ && dp_comm_ && !plan_.overlap_param_gather)) return;
    TaskId prev = opt;
    for (std::int64_t c = 0; c < v_; ++c)
      prev = rb.add(Stream::dp_comm, Category::dp_comm, Name{"param all-gather", -1, c * p_ + s},
                    param_gather_time(chunk(c * p_ + s)), {prev});
  }

  /// Full mode: a collective starts when every member of its group is ready.
  void synchronize_collectives() {
    // Builders are ordered lane-major: index = lane * p + stage, while global rank = lane + lanes * stage.
    std::vector<std::size_t> builder_of_rank(builders_.size());
    for (std::size_t b = 0; b < builders_.size(); ++b) builder_of_rank[static_cast<std::size_t>(builders_[b].rank())] = b;
    const auto sync_groups = [&](const Groups& groups, std::vector<TaskId> RankBuilder::*tasks) {
      for (const auto& group : groups) {
        const auto& first = builders_[builder_of_rank[static_cast<std::size_t>(group[0])]].*tasks;
        for (std::size_t k = 0; k < first.size(); ++k) {
          std::vector<TaskId> ids;
          for (auto r : group) {
            const auto& member = builders_[builder_of_rank[static_cast<std::size_t>(r)]].*tasks;
            if (k < member.size()) ids.push_back(member[k]);
          }
          if (ids.size() > 1) g_.synchronize(ids);
        }
      }
    };
    if (plan_.tp > 1) sync_groups(layout_.tp_groups(), &RankBuilder::tp_tasks_);
    if (dp_comm_) sync_groups(layout_.dp_groups(), &RankBuilder::dp_tasks_);
  }

  const StepCosts& costs_;
  const Plan& plan_;
  RankMode mode_;
  bool named_;
  std::span<const double> slowdown_;  ///< per global rank; empty: all healthy
  StepGraph& out_;
  sim::TaskGraph& g_;
  std::int64_t p_, v_, m_, stages_;
  RankLayout layout_;
  std::int64_t lanes_;  ///< one (tp, cp, dp) coordinate each
  bool sharded_params_, sharded_grads_;
  bool gathers_once_;  ///< the weights are gathered once per step (ZeRO-1/2; FSDP holding a stage unsharded)
  bool dp_comm_;
  std::vector<RankBuilder> builders_;
  std::vector<TaskId> fwd_done_, bwd_done_, fwd_compute_;
  std::vector<std::int64_t> backwards_left_;  ///< per builder and chunk
  std::vector<TaskId> chunk_gather_;          ///< per builder and chunk
  std::vector<TaskId> last_grad_task_;        ///< per builder
};

}  // namespace

StepGraph build_step_graph(const StepCosts& costs, const Plan& plan, RankMode mode, bool named,
                           std::span<const double> rank_slowdown) {
  // One slow GPU is not representative of its stage: only the full mode tells it apart.
  if (!rank_slowdown.empty() &&
      (mode != RankMode::full || static_cast<std::int64_t>(rank_slowdown.size()) != plan.gpus()))
    throw std::logic_error("build_step_graph: per-rank slowdowns need RankMode::full and one value per GPU");
  StepGraph out;
  StepLowering(costs, plan, mode, named, rank_slowdown, out).run();
  return out;
}

}  // namespace hpsim::planner
