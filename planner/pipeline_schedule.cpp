#include "planner/pipeline_schedule.hpp"

#include <algorithm>

namespace hpsim::planner {

namespace {

std::int64_t warmup_passes(Schedule schedule, std::int64_t pp, std::int64_t vpp, std::int64_t m,
                           std::int64_t rank) {
  const std::int64_t total = m * vpp;
  if (schedule == Schedule::gpipe) return total;
  if (vpp == 1) return std::min(pp - rank - 1, m);
  return std::min((pp - rank - 1) * 2 + (vpp - 1) * pp, total);
}

// Megatron's interleaved numbering: the k-th pass of a rank visits chunks in groups of pp micro-batches.
PipelinePass nth_pass(bool forward, std::int64_t k, std::int64_t pp, std::int64_t vpp) {
  const std::int64_t group = pp * vpp;
  std::int64_t chunk = (k % group) / pp;
  if (!forward) chunk = vpp - 1 - chunk;
  return {forward, (k / group) * pp + k % pp, chunk};
}

}  // namespace

std::vector<PipelinePass> pipeline_order(Schedule schedule, std::int64_t pp, std::int64_t vpp, std::int64_t m,
                                         std::int64_t rank) {
  const std::int64_t total = m * vpp;
  std::vector<PipelinePass> order;
  order.reserve(static_cast<std::size_t>(2 * total));
  if (vpp == 1) {
    // Plain 1F1B / GPipe: micro-batches in order, so pass k is micro-batch k.
    const std::int64_t warmup = warmup_passes(schedule, pp, vpp, m, rank);
    for (std::int64_t k = 0; k < warmup; ++k) order.push_back({true, k, 0});
    for (std::int64_t k = warmup, b = 0; k < m; ++k, ++b) {
      order.push_back({true, k, 0});
      order.push_back({false, b, 0});
    }
    for (std::int64_t b = m - warmup; b < m; ++b) order.push_back({false, b, 0});
    return order;
  }
  const std::int64_t warmup = warmup_passes(schedule, pp, vpp, m, rank);
  for (std::int64_t k = 0; k < warmup; ++k) order.push_back(nth_pass(true, k, pp, vpp));
  for (std::int64_t i = 0; i < total - warmup; ++i) {
    order.push_back(nth_pass(true, warmup + i, pp, vpp));
    order.push_back(nth_pass(false, i, pp, vpp));
  }
  for (std::int64_t k = total - warmup; k < total; ++k) order.push_back(nth_pass(false, k, pp, vpp));
  return order;
}

std::int64_t peak_in_flight_chunks(Schedule schedule, std::int64_t pp, std::int64_t vpp, std::int64_t m,
                                   std::int64_t rank) {
  const std::int64_t warmup = warmup_passes(schedule, pp, vpp, m, rank);
  return std::min(warmup + 1, m * vpp);
}

std::int64_t peak_in_flight_of_chunk(Schedule schedule, std::int64_t pp, std::int64_t vpp, std::int64_t m,
                                     std::int64_t rank, std::int64_t chunk) {
  const std::int64_t passes = peak_in_flight_chunks(schedule, pp, vpp, m, rank);
  if (vpp == 1) return passes;
  // nth_pass: forward k runs chunk (k mod pp*vpp) / pp, so each full round of pp*vpp passes gives every chunk pp.
  const std::int64_t group = pp * vpp, rest = passes % group;
  return passes / group * pp + std::clamp(rest - chunk * pp, std::int64_t{0}, pp);
}

}  // namespace hpsim::planner
