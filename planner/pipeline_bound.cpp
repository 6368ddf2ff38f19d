#include "planner/pipeline_bound.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "planner/pipeline_schedule.hpp"
#include "sim/task_graph.hpp"

namespace hpsim::planner {

namespace {

double ns(core::Seconds s) { return std::round(s.value() * 1e9); }  // as the engine rounds each task

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

}  // namespace

double pipeline_step_lower_bound_s(const StepCosts& costs, const Plan& plan) {
  const std::int64_t p = plan.pp, v = plan.vpp, m = plan.micro_batches(), stages = p * v;
  const bool dp_comm = plan.dp * plan.cp > 1;
  constexpr double kNotYet = -1;
  // When each (virtual stage, micro-batch) pass has produced what the next one waits for (its send, or its tail).
  const auto slots = static_cast<std::size_t>(stages * m);
  std::vector<double> fwd_done(slots, kNotYet), bwd_done(slots, kNotYet), fwd_end(slots, kNotYet);
  const auto slot = [m](std::int64_t vs, std::int64_t mb) { return static_cast<std::size_t>(vs * m + mb); };
  std::vector<std::vector<PipelinePass>> orders(static_cast<std::size_t>(p));
  for (std::int64_t s = 0; s < p; ++s) orders[static_cast<std::size_t>(s)] = pipeline_order(plan.schedule, p, v, m, s);
  std::vector<std::size_t> next(static_cast<std::size_t>(p), 0);
  std::vector<RankClock> clocks(static_cast<std::size_t>(p));
  // gathered[s * v + c]: when ZeRO-1/2's start-of-step gather of chunk c of rank s ends (0: none).
  std::vector<double> gathered(static_cast<std::size_t>(p * v), 0.0);
  const bool start_gathers = plan.zero >= 1 && plan.zero <= 2 && dp_comm && plan.overlap_param_gather;
  // ZeRO-0/1 reduce each chunk's gradients during its last backward, bucket by bucket, when overlapped.
  const bool overlapped_reduction = dp_comm && plan.zero <= 1 && plan.overlap_grad_reduce;
  std::vector<std::int64_t> backwards_left(static_cast<std::size_t>(p * v), m);
  for (std::int64_t s = 0; s < p; ++s) {
    RankClock& clock = clocks[static_cast<std::size_t>(s)];
    clock.share = std::min(costs.collective_processor_share, sim::kMaxProcessorShare);
    for (std::int64_t c = 0; c < v && start_gathers; ++c) {
      const auto& cc = costs.chunks[static_cast<std::size_t>(c * p + s)];
      clock.gathers_end_ns += ns(costs.param_gather.time(core::Bytes(cc.parameters * costs.bytes.weight)));
      gathered[static_cast<std::size_t>(s * v + c)] = clock.gathers_end_ns;
    }
    clock.dp_free_ns = clock.gathers_end_ns;
  }

  // Advances one rank's next pass if its input is ready; the walk visits ranks round-robin as the step graph does.
  const auto advance = [&](std::int64_t s) {
    const auto& pass = orders[static_cast<std::size_t>(s)][next[static_cast<std::size_t>(s)]];
    const std::int64_t vs = pass.chunk * p + s;
    const auto& cc = costs.chunks[static_cast<std::size_t>(vs)];
    RankClock& clock = clocks[static_cast<std::size_t>(s)];
    if (pass.forward) {
      if (vs > 0 && fwd_done[slot(vs - 1, pass.micro_batch)] == kNotYet) return false;
      if (vs > 0) clock.now_ns = std::max(clock.now_ns, fwd_done[slot(vs - 1, pass.micro_batch)]);
      if (pass.micro_batch == 0) clock.now_ns = std::max(clock.now_ns, gathered[static_cast<std::size_t>(s * v + pass.chunk)]);
      clock.compute(ns(cc.forward));
      clock.now_ns += ns(cc.forward_tp) + ns(cc.forward_cp) + ns(cc.forward_ep);
      fwd_end[slot(vs, pass.micro_batch)] = clock.now_ns;
      if (vs + 1 < stages) clock.now_ns += ns(costs.pp_send[static_cast<std::size_t>(s)]);
      fwd_done[slot(vs, pass.micro_batch)] = clock.now_ns;
    } else {
      if (vs + 1 < stages && bwd_done[slot(vs + 1, pass.micro_batch)] == kNotYet) return false;
      if (vs + 1 < stages) clock.now_ns = std::max(clock.now_ns, bwd_done[slot(vs + 1, pass.micro_batch)]);
      clock.now_ns = std::max(clock.now_ns, fwd_end[slot(vs, pass.micro_batch)]);
      clock.compute(ns(cc.recompute));
      clock.now_ns += ns(cc.recompute_tp);
      if (--backwards_left[static_cast<std::size_t>(s * v + pass.chunk)] == 0 && overlapped_reduction) {
        // The chunk's last backward runs in pieces, one gradient bucket each, reduced as it is ready.
        const auto buckets = static_cast<double>(gradient_buckets(costs, cc));
        const core::Bytes bucket(cc.parameters * costs.bytes.gradient / buckets);
        for (double k = 0; k < buckets; ++k) {
          clock.compute(ns(cc.backward / buckets));
          clock.dp_free_ns = std::max(clock.dp_free_ns, clock.now_ns) + ns(costs.grad_reduce.time(bucket));
        }
      } else {
        clock.compute(ns(cc.backward));
      }
      clock.now_ns += ns(cc.backward_tp) + ns(cc.backward_cp) + ns(cc.backward_ep);
      if (vs > 0) clock.now_ns += ns(costs.pp_send[static_cast<std::size_t>((s + p - 1) % p)]);
      bwd_done[slot(vs, pass.micro_batch)] = clock.now_ns;
    }
    ++next[static_cast<std::size_t>(s)];
    return true;
  };
  for (bool progress = true; progress;) {
    progress = false;
    for (std::int64_t s = 0; s < p; ++s)
      while (next[static_cast<std::size_t>(s)] < orders[static_cast<std::size_t>(s)].size() && advance(s)) progress = true;
  }
  for (std::int64_t s = 0; s < p; ++s)
    if (next[static_cast<std::size_t>(s)] < orders[static_cast<std::size_t>(s)].size())
      throw std::logic_error("pipeline schedule deadlock while bounding the step");

  double end_ns = 0;
  for (std::int64_t s = 0; s < p; ++s) {
    RankClock& clock = clocks[static_cast<std::size_t>(s)];
    double params = 0, experts = 0, gathers_after_ns = 0;
    for (std::int64_t c = 0; c < v; ++c) {
      const auto& cc = costs.chunks[static_cast<std::size_t>(c * p + s)];
      params += cc.parameters;
      experts += cc.expert_parameters;
      // Without overlap, each chunk's gradients are reduced after the rank's last backward.
      if (dp_comm && plan.zero <= 1 && !plan.overlap_grad_reduce)
        clock.dp_free_ns = std::max(clock.dp_free_ns, clock.now_ns) +
                           ns(costs.grad_reduce.time(core::Bytes(cc.parameters * costs.bytes.gradient)));
      if (dp_comm && plan.zero >= 1 && plan.zero <= 2 && !plan.overlap_param_gather)
        gathers_after_ns += ns(costs.param_gather.time(core::Bytes(cc.parameters * costs.bytes.weight)));
    }
    // The first and last stages then all-reduce the tied embedding's gradients; the optimizer waits for every
    // reduction, and without overlap ZeRO's gathers follow it.
    if (s == 0 || s == p - 1) clock.dp_free_ns = std::max(clock.dp_free_ns, clock.now_ns) + ns(costs.embedding_sync);
    clock.now_ns = std::max(clock.now_ns, clock.dp_free_ns);
    clock.compute(ns(optimizer_step_time(costs, plan, params, experts)));
    // A nanosecond of rounding each way for every task run at the shared rate.
    end_ns = std::max(end_ns, clock.now_ns + gathers_after_ns - 2 * clock.stretched);
  }
  return std::max(0.0, end_ns) * 1e-9;
}

}  // namespace hpsim::planner
