#include "planner/pipeline_bound.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "planner/pipeline_schedule.hpp"
#include "sim/task_graph.hpp"

namespace hpsim::planner {

namespace {

/// A task's duration as the engine takes it: rounded to the nanosecond by core::to_time.
double ns(core::Seconds s) { return static_cast<double>(core::to_time(s).ns); }

/// One pipeline rank: when its compute stream is free, and until when the parameter gathers of the step's start
/// take `share` of its processors (compute runs at 1 - share meanwhile, as the engine's processor sharing has it).
struct RankClock {
  double now_ns = 0;
  double gathers_end_ns = 0;
  double share = 0;
  double dp_free_ns = 0;  ///< when the data-parallel stream (first-in first-out) has done what it was given so far
  double stretched = 0;   ///< compute tasks run at the shared rate, which the engine rounds to the nanosecond

  /// Runs `work_ns` of compute from `now_ns`.
  void compute(double work_ns) {
    if (work_ns <= 0) return;
    if (now_ns < gathers_end_ns && share > 0) {
      ++stretched;
      const double rate = 1.0 - share;
      const double slow_window = (gathers_end_ns - now_ns) * rate;  // work the window holds at the shared rate
      if (work_ns <= slow_window) {
        now_ns += work_ns / rate;
        return;
      }
      work_ns -= slow_window;
      now_ns = gathers_end_ns;
    }
    now_ns += work_ns;
  }
};

/// The walk: every rank's passes in its schedule order, each when its input has arrived (the step graph's
/// dependencies without the tasks that only add time), ranks visited round-robin as the step graph builds them.
class ScheduleWalk {
 public:
  ScheduleWalk(const StepCosts& costs, const Plan& plan)
      : costs_(costs), plan_(plan), p_(plan.pp), v_(plan.vpp), m_(plan.micro_batches()), stages_(p_ * v_),
        dp_comm_(plan.dp * plan.cp > 1),
        overlapped_reduction_(dp_comm_ && plan.zero <= 1 && plan.overlap_grad_reduce),
        fwd_done_(static_cast<std::size_t>(stages_ * m_), kNotYet), bwd_done_(fwd_done_), fwd_end_(fwd_done_),
        gathered_(static_cast<std::size_t>(p_ * v_), 0.0), backwards_left_(static_cast<std::size_t>(p_ * v_), m_),
        clocks_(static_cast<std::size_t>(p_)) {
    for (std::int64_t s = 0; s < p_; ++s) start_of_step(s);
  }

  double end_ns() {
    std::vector<std::vector<PipelinePass>> orders(static_cast<std::size_t>(p_));
    for (std::int64_t s = 0; s < p_; ++s) orders[static_cast<std::size_t>(s)] = pipeline_order(plan_.schedule, p_, v_, m_, s);
    std::vector<std::size_t> next(static_cast<std::size_t>(p_), 0);
    for (bool progress = true; progress;) {
      progress = false;
      for (std::size_t s = 0; s < orders.size(); ++s)
        for (; next[s] < orders[s].size() && pass(static_cast<std::int64_t>(s), orders[s][next[s]]); ++next[s])
          progress = true;
    }
    double end = 0;
    for (std::size_t s = 0; s < orders.size(); ++s) {
      if (next[s] < orders[s].size()) throw std::logic_error("pipeline schedule deadlock while bounding the step");
      end = std::max(end, end_of_step(static_cast<std::int64_t>(s)));
    }
    return end;
  }

 private:
  static constexpr double kNotYet = -1;

  [[nodiscard]] std::size_t slot(std::int64_t vs, std::int64_t mb) const { return static_cast<std::size_t>(vs * m_ + mb); }
  [[nodiscard]] const ChunkCost& chunk(std::int64_t vs) const { return costs_.chunks[static_cast<std::size_t>(vs)]; }
  [[nodiscard]] double gather_ns(const ChunkCost& cc) const {
    return ns(costs_.param_gather.time(core::Bytes(cc.parameters * costs_.bytes.weight)));
  }

  /// ZeRO-1/2's gathers of the step's start: the first tasks on the data-parallel stream, back to back from 0.
  void start_of_step(std::int64_t s) {
    RankClock& clock = clocks_[static_cast<std::size_t>(s)];
    clock.share = std::min(costs_.collective_processor_share, sim::kMaxProcessorShare);
    if (!(plan_.zero >= 1 && plan_.zero <= 2 && dp_comm_ && plan_.overlap_param_gather)) return;
    for (std::int64_t c = 0; c < v_; ++c) {
      clock.gathers_end_ns += gather_ns(chunk(c * p_ + s));
      gathered_[static_cast<std::size_t>(s * v_ + c)] = clock.gathers_end_ns;
    }
    clock.dp_free_ns = clock.gathers_end_ns;
  }

  /// Runs rank s's next pass; false when its input has not arrived yet.
  bool pass(std::int64_t s, const PipelinePass& pass) {
    const std::int64_t vs = pass.chunk * p_ + s, mb = pass.micro_batch;
    const ChunkCost& cc = chunk(vs);
    RankClock& clock = clocks_[static_cast<std::size_t>(s)];
    if (pass.forward) {
      if (vs > 0 && fwd_done_[slot(vs - 1, mb)] == kNotYet) return false;
      if (vs > 0) clock.now_ns = std::max(clock.now_ns, fwd_done_[slot(vs - 1, mb)]);
      if (mb == 0) clock.now_ns = std::max(clock.now_ns, gathered_[static_cast<std::size_t>(s * v_ + pass.chunk)]);
      clock.compute(ns(cc.forward));
      clock.now_ns += ns(cc.forward_tp) + ns(cc.forward_cp) + ns(cc.forward_ep);
      fwd_end_[slot(vs, mb)] = clock.now_ns;
      if (vs + 1 < stages_) clock.now_ns += ns(costs_.pp_send[static_cast<std::size_t>(s)]);
      fwd_done_[slot(vs, mb)] = clock.now_ns;
      return true;
    }
    if (vs + 1 < stages_ && bwd_done_[slot(vs + 1, mb)] == kNotYet) return false;
    if (vs + 1 < stages_) clock.now_ns = std::max(clock.now_ns, bwd_done_[slot(vs + 1, mb)]);
    clock.now_ns = std::max(clock.now_ns, fwd_end_[slot(vs, mb)]);
    clock.compute(ns(cc.recompute));
    clock.now_ns += ns(cc.recompute_tp);
    backward(clock, cc, --backwards_left_[static_cast<std::size_t>(s * v_ + pass.chunk)] == 0);
    clock.now_ns += ns(cc.backward_tp) + ns(cc.backward_cp) + ns(cc.backward_ep);
    if (vs > 0) clock.now_ns += ns(costs_.pp_send[static_cast<std::size_t>((s + p_ - 1) % p_)]);
    bwd_done_[slot(vs, mb)] = clock.now_ns;
    return true;
  }

  /// A backward's compute; a chunk's last runs in pieces, one gradient bucket each, reduced as it is ready.
  void backward(RankClock& clock, const ChunkCost& cc, bool last_of_chunk) const {
    if (!(last_of_chunk && overlapped_reduction_)) {
      clock.compute(ns(cc.backward));
      return;
    }
    const auto buckets = static_cast<double>(gradient_buckets(costs_, cc));
    const core::Bytes bucket(cc.parameters * costs_.bytes.gradient / buckets);
    for (double k = 0; k < buckets; ++k) {
      clock.compute(ns(cc.backward / buckets));
      clock.dp_free_ns = std::max(clock.dp_free_ns, clock.now_ns) + ns(costs_.grad_reduce.time(bucket));
    }
  }

  /// The rank's optimizer step after every gradient reduction (ZeRO-0/1 without overlap reduce after the last
  /// backward; the first and last stages then all-reduce the tied embedding's); without overlap, ZeRO's gathers
  /// follow it. A nanosecond of rounding each way for every task run at the shared rate.
  double end_of_step(std::int64_t s) {
    RankClock& clock = clocks_[static_cast<std::size_t>(s)];
    double params = 0, experts = 0, gathers_after_ns = 0;
    for (std::int64_t c = 0; c < v_; ++c) {
      const ChunkCost& cc = chunk(c * p_ + s);
      params += cc.parameters;
      experts += cc.expert_parameters;
      if (dp_comm_ && plan_.zero <= 1 && !plan_.overlap_grad_reduce)
        clock.dp_free_ns = std::max(clock.dp_free_ns, clock.now_ns) +
                           ns(costs_.grad_reduce.time(core::Bytes(cc.parameters * costs_.bytes.gradient)));
      if (dp_comm_ && plan_.zero >= 1 && plan_.zero <= 2 && !plan_.overlap_param_gather) gathers_after_ns += gather_ns(cc);
    }
    if (s == 0 || s == p_ - 1) clock.dp_free_ns = std::max(clock.dp_free_ns, clock.now_ns) + ns(costs_.embedding_sync);
    clock.now_ns = std::max(clock.now_ns, clock.dp_free_ns);
    clock.compute(ns(optimizer_step_time(costs_, plan_, params, experts)));
    return clock.now_ns + gathers_after_ns - 2 * clock.stretched;
  }

  const StepCosts& costs_;
  const Plan& plan_;
  const std::int64_t p_, v_, m_, stages_;
  const bool dp_comm_, overlapped_reduction_;
  /// Per (virtual stage, micro-batch): when the pass produced what the next waits for (its send, or its tail), and
  /// when the forward's compute and blocking communication ended (its backward waits for it).
  std::vector<double> fwd_done_, bwd_done_, fwd_end_;
  std::vector<double> gathered_;  ///< [rank * v + chunk]: when its start-of-step gather ends (0: none)
  std::vector<std::int64_t> backwards_left_;  ///< [rank * v + chunk]
  std::vector<RankClock> clocks_;
};

}  // namespace

double pipeline_step_lower_bound_s(const StepCosts& costs, const Plan& plan) {
  return std::max(0.0, ScheduleWalk(costs, plan).end_ns()) * 1e-9;
}

}  // namespace hpsim::planner
