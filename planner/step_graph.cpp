#include "planner/step_graph.hpp"

#include <algorithm>
#include <cmath>
#include <string>

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
  RankBuilder(sim::TaskGraph& g, bool named, std::int32_t rank, std::int64_t stage)
      : g_(g), named_(named), unnamed_(g.label("")), rank_(rank), stage_(stage) {}

  /// Adds a task after `after`; returns it.
  TaskId add(Stream stream, Category category, const Name& name, Seconds duration,
             std::initializer_list<TaskId> after, const char* suffix = nullptr) {
    const TaskId id = g_.add(rank_, static_cast<sim::StreamId>(stream), static_cast<sim::CategoryId>(category),
                             label(name, suffix), to_time(duration));
    for (TaskId a : after)
      if (a != kNone) g_.depend(id, a);
    if (stream == Stream::tp_comm) tp_tasks_.push_back(id);
    if (stream == Stream::dp_comm) dp_tasks_.push_back(id);
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
  TaskId blocking_ = kNone;
};

}  // namespace

StepGraph build_step_graph(const StepCosts& costs, const Plan& plan, RankMode mode, bool named) {
  StepGraph out;
  sim::TaskGraph& g = out.graph;
  const std::int64_t p = plan.pp, v = plan.vpp, m = plan.micro_batches();
  const std::int64_t stages = p * v;
  const RankLayout layout(plan);
  // A lane is one (tp, cp, dp) coordinate: representative mode simulates lane 0 only.
  const std::int64_t lanes = mode == RankMode::full ? plan.tp * plan.cp * plan.dp : 1;
  // Every simulated rank runs 2*m*v passes of a few tasks each; refuse what would not fit in memory rather than
  // thrash (full mode is a cross-check for small clusters; the representative mode gives the same step time).
  constexpr double kMaxTasks = 5e7;
  const double estimated_tasks = static_cast<double>(lanes * p) * static_cast<double>(2 * m * v) * 6.0;
  if (estimated_tasks > kMaxTasks && mode == RankMode::full)
    throw core::InputError("simulate", "--full-ranks",
                           "simulating every one of " + std::to_string(lanes * p) + " ranks would take about " +
                               std::to_string(static_cast<long long>(estimated_tasks / 1e6)) +
                               " M tasks; use the default representative mode (same step time) or a smaller cluster");
  if (estimated_tasks > kMaxTasks)
    throw core::InputError("plan", "global_batch_size",
                           std::to_string(m) + " micro-batches per pipeline make about " +
                               std::to_string(static_cast<long long>(estimated_tasks / 1e6)) +
                               " M tasks to simulate; expected a global batch of at most a few hundred thousand "
                               "micro-batches per pipeline");

  // fwd_done / bwd_done[lane][vs][mb]: the task the next virtual stage waits for (the send, or the pass's tail).
  auto index = [&](std::int64_t lane, std::int64_t vs, std::int64_t mb) {
    return static_cast<std::size_t>((lane * stages + vs) * m + mb);
  };
  std::vector<TaskId> fwd_done(static_cast<std::size_t>(lanes * stages * m), kNone);
  std::vector<TaskId> bwd_done(fwd_done.size(), kNone);
  std::vector<TaskId> fwd_compute(fwd_done.size(), kNone);

  std::vector<RankBuilder> builders;
  builders.reserve(static_cast<std::size_t>(lanes * p));
  for (std::int64_t lane = 0; lane < lanes; ++lane)
    for (std::int64_t s = 0; s < p; ++s) {
      const std::int64_t global = lane + lanes * s;  // = layout.rank() in full mode (tp fastest, pp slowest)
      const auto rank = static_cast<std::int32_t>(mode == RankMode::full ? global : s);
      builders.emplace_back(g, named, rank, s);
      g.set_rank_name(rank, mode == RankMode::full ? "rank " + std::to_string(global) + " (stage " +
                                                         std::to_string(s) + ")"
                                                   : "stage " + std::to_string(s));
      out.stage_of_rank.push_back(s);
    }

  const double grad_bytes = costs.bytes.gradient;
  const double weight_bytes = costs.bytes.weight;
  const bool sharded_params = plan.zero >= 3;
  const bool dp_comm = plan.dp * plan.cp > 1;

  // Per rank, in schedule order. Passes of different ranks depend on each other through send tasks, which are
  // created in the sender's order; so build rank by rank in a global order that respects dependencies: walk the
  // ranks round-robin, advancing each as far as its dependencies allow.
  std::vector<std::vector<PipelinePass>> orders(static_cast<std::size_t>(p));
  for (std::int64_t s = 0; s < p; ++s) orders[static_cast<std::size_t>(s)] = pipeline_order(plan.schedule, p, v, m, s);
  std::vector<std::size_t> next(builders.size(), 0);
  std::vector<std::int64_t> backwards_left(builders.size() * static_cast<std::size_t>(v), m);
  std::vector<TaskId> chunk_gather(builders.size() * static_cast<std::size_t>(v), kNone);
  std::vector<TaskId> last_grad_task(builders.size(), kNone);

  // ZeRO-1/2 with overlapped parameter gathering: this step's forward waits for the weights the previous
  // optimizer step produced, gathered per chunk at the start of the step.
  if (plan.zero >= 1 && plan.zero <= 2 && dp_comm && plan.overlap_param_gather) {
    for (std::size_t b = 0; b < builders.size(); ++b)
      for (std::int64_t c = 0; c < v; ++c) {
        const auto& cc = costs.chunks[static_cast<std::size_t>(c * p + builders[b].stage())];
        chunk_gather[b * static_cast<std::size_t>(v) + static_cast<std::size_t>(c)] =
            builders[b].add(Stream::dp_comm, Category::dp_comm, Name{"param all-gather", -1, c * p + builders[b].stage()},
                            costs.param_gather.time(core::Bytes(cc.parameters * weight_bytes)), {});
      }
  }

  bool progress = true;
  std::size_t remaining = 0;
  for (std::size_t b = 0; b < builders.size(); ++b) remaining += orders[static_cast<std::size_t>(builders[b].stage())].size();
  while (remaining > 0) {
    if (!progress) throw std::logic_error("pipeline schedule deadlock while lowering the step");
    progress = false;
    for (std::size_t b = 0; b < builders.size(); ++b) {
      RankBuilder& rb = builders[b];
      const std::int64_t s = rb.stage();
      const std::int64_t lane = static_cast<std::int64_t>(b) / p;
      const auto& order = orders[static_cast<std::size_t>(s)];
      while (next[b] < order.size()) {
        const PipelinePass& pass = order[next[b]];
        const std::int64_t vs = pass.chunk * p + s;
        const auto& cc = costs.chunks[static_cast<std::size_t>(vs)];
        const std::size_t cb = b * static_cast<std::size_t>(v) + static_cast<std::size_t>(pass.chunk);
        if (pass.forward) {
          const TaskId from = vs > 0 ? fwd_done[index(lane, vs - 1, pass.micro_batch)] : kNone;
          if (vs > 0 && from == kNone) break;  // the previous virtual stage has not produced it yet
          TaskId gather = pass.micro_batch == 0 ? chunk_gather[cb] : kNone;
          if (sharded_params && dp_comm)  // ZeRO-3 gathers the chunk's weights before every use
            gather = rb.add(Stream::dp_comm, Category::dp_comm, Name{"param all-gather", pass.micro_batch, vs},
                            costs.param_gather.time(core::Bytes(cc.parameters * weight_bytes)), {});
          TaskId tail = rb.pass(Category::compute, Name{"forward", pass.micro_batch, vs}, cc.forward,
                                {{Category::tp_comm, cc.forward_tp}, {Category::cp_comm, cc.forward_cp},
                                 {Category::ep_comm, cc.forward_ep}},
                                {from, gather});
          fwd_compute[index(lane, vs, pass.micro_batch)] = tail;
          if (vs + 1 < stages) {
            tail = rb.add(Stream::pp_comm, Category::pp_comm, Name{"send activations", pass.micro_batch, vs},
                          costs.pp_send[static_cast<std::size_t>(s)], {tail});
            rb.block_on(tail);  // Megatron waits for its point-to-point operations before going on
          }
          fwd_done[index(lane, vs, pass.micro_batch)] = tail;
        } else {
          const TaskId from = vs + 1 < stages ? bwd_done[index(lane, vs + 1, pass.micro_batch)] : kNone;
          if (vs + 1 < stages && from == kNone) break;
          const TaskId own_forward = fwd_compute[index(lane, vs, pass.micro_batch)];
          TaskId gather = kNone;
          if (sharded_params && dp_comm)
            gather = rb.add(Stream::dp_comm, Category::dp_comm, Name{"param all-gather (bwd)", pass.micro_batch, vs},
                            costs.param_gather.time(core::Bytes(cc.parameters * weight_bytes)), {});
          if (cc.recompute.value() > 0)
            rb.pass(Category::recompute, Name{"recompute", pass.micro_batch, vs}, cc.recompute,
                    {{Category::tp_comm, cc.recompute_tp}}, {from, own_forward, gather});
          const bool last_of_chunk = --backwards_left[cb] == 0;
          const core::Bytes chunk_grads(cc.parameters * grad_bytes);
          TaskId tail = kNone;
          if (last_of_chunk && dp_comm && plan.overlap_grad_reduce && !sharded_params) {
            // Buckets fill as the last backward proceeds; each is reduced while the rest of backward runs.
            const auto buckets = static_cast<std::int64_t>(std::max(1.0, std::ceil(cc.parameters / costs.bucket_parameters)));
            for (std::int64_t k = 0; k < buckets; ++k) {
              const bool last_bucket = k + 1 == buckets;
              const TaskId piece = rb.pass(
                  Category::compute, Name{"backward", pass.micro_batch, vs, k},
                  cc.backward / static_cast<double>(buckets),
                  last_bucket ? std::initializer_list<std::pair<Category, Seconds>>{{Category::tp_comm, cc.backward_tp},
                                                                                    {Category::cp_comm, cc.backward_cp},
                                                                                    {Category::ep_comm, cc.backward_ep}}
                              : std::initializer_list<std::pair<Category, Seconds>>{},
                  {from, own_forward, gather});
              last_grad_task[b] = rb.add(Stream::dp_comm, Category::dp_comm,
                                         Name{"gradient reduce", -1, vs, k},
                                         costs.grad_reduce.time(chunk_grads / static_cast<double>(buckets)), {piece});
              tail = piece;
            }
          } else {
            tail = rb.pass(Category::compute, Name{"backward", pass.micro_batch, vs}, cc.backward,
                           {{Category::tp_comm, cc.backward_tp}, {Category::cp_comm, cc.backward_cp},
                            {Category::ep_comm, cc.backward_ep}},
                           {from, own_forward, gather});
            if (sharded_params && dp_comm)  // ZeRO-3 reduce-scatters every micro-batch's gradients
              last_grad_task[b] = rb.add(Stream::dp_comm, Category::dp_comm, Name{"gradient reduce-scatter", pass.micro_batch, vs},
                                         costs.grad_reduce.time(chunk_grads), {tail});
          }
          if (vs > 0) {
            tail = rb.add(Stream::pp_comm, Category::pp_comm, Name{"send gradients", pass.micro_batch, vs},
                          costs.pp_send[static_cast<std::size_t>((s + p - 1) % p)], {tail});
            rb.block_on(tail);
          }
          bwd_done[index(lane, vs, pass.micro_batch)] = tail;
        }
        ++next[b];
        --remaining;
        progress = true;
      }
    }
  }

  // End of step: gradient reduction not overlapped, the optimizer, and ZeRO's weight gathering.
  for (std::size_t b = 0; b < builders.size(); ++b) {
    RankBuilder& rb = builders[b];
    const std::int64_t s = rb.stage();
    double params = 0;
    for (std::int64_t c = 0; c < v; ++c) params += costs.chunks[static_cast<std::size_t>(c * p + s)].parameters;
    TaskId grads_ready = last_grad_task[b];
    if (dp_comm && (!plan.overlap_grad_reduce) && !sharded_params) {
      for (std::int64_t c = v - 1; c >= 0; --c) {
        const auto& cc = costs.chunks[static_cast<std::size_t>(c * p + s)];
        grads_ready = rb.add(Stream::dp_comm, Category::dp_comm, Name{"gradient reduce", -1, c * p + s},
                             costs.grad_reduce.time(core::Bytes(cc.parameters * grad_bytes)), {rb.blocking()});
      }
    }
    if (costs.embedding_sync.value() > 0 && (s == 0 || s == p - 1))
      grads_ready = rb.add(Stream::dp_comm, Category::dp_comm, Name{"embedding gradient all-reduce"},
                           costs.embedding_sync, {grads_ready, rb.blocking()});
    const Seconds optimizer = optimizer_step_time(costs, plan, params);
    const TaskId opt = rb.pass(Category::optimizer, Name{"optimizer step"}, optimizer, {}, {grads_ready});
    if (plan.zero >= 1 && plan.zero <= 2 && dp_comm && !plan.overlap_param_gather) {
      TaskId prev = opt;
      for (std::int64_t c = 0; c < v; ++c) {
        const auto& cc = costs.chunks[static_cast<std::size_t>(c * p + s)];
        prev = rb.add(Stream::dp_comm, Category::dp_comm, Name{"param all-gather", -1, c * p + s},
                      costs.param_gather.time(core::Bytes(cc.parameters * weight_bytes)), {prev});
      }
    }
  }

  // Full mode: a collective starts when every member of its group is ready.
  if (mode == RankMode::full) {
    auto sync_groups = [&](const Groups& groups, auto member_tasks) {
      for (const auto& group : groups) {
        const auto& first = member_tasks(builders[static_cast<std::size_t>(group[0])]);
        for (std::size_t k = 0; k < first.size(); ++k) {
          std::vector<TaskId> ids;
          for (auto r : group) {
            const auto& tasks = member_tasks(builders[static_cast<std::size_t>(r)]);
            if (k < tasks.size()) ids.push_back(tasks[k]);
          }
          if (ids.size() > 1) g.synchronize(ids);
        }
      }
    };
    // Builders are ordered lane-major: index = lane * p + stage, while global rank = lane + lanes * stage.
    std::vector<std::size_t> builder_of_rank(builders.size());
    for (std::size_t b = 0; b < builders.size(); ++b) builder_of_rank[static_cast<std::size_t>(builders[b].rank())] = b;
    auto by_rank = [&](const Groups& groups) {
      Groups mapped = groups;
      for (auto& group : mapped)
        for (auto& r : group) r = static_cast<std::int64_t>(builder_of_rank[static_cast<std::size_t>(r)]);
      return mapped;
    };
    if (plan.tp > 1) sync_groups(by_rank(layout.tp_groups()), [](RankBuilder& rb) -> const std::vector<TaskId>& { return rb.tp_tasks_; });
    if (dp_comm) sync_groups(by_rank(layout.dp_groups()), [](RankBuilder& rb) -> const std::vector<TaskId>& { return rb.dp_tasks_; });
  }
  return out;
}

}  // namespace hpsim::planner
