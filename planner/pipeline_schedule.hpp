#pragma once
/// The order in which one pipeline rank runs forward and backward passes of (micro-batch, model chunk) pairs:
/// GPipe, 1F1B and interleaved 1F1B, as Megatron-LM orders them.
#include <cstdint>
#include <vector>

#include "planner/plan.hpp"

namespace hpsim::planner {

/// One pass of one micro-batch through one model chunk of a rank.
struct PipelinePass {
  bool forward = true;
  std::int64_t micro_batch = 0;
  std::int64_t chunk = 0;  ///< 0..vpp-1; virtual stage = chunk * pp + rank
};

/// The passes of pipeline rank `rank` (0..pp-1) in execution order; m micro-batches, v chunks per rank.
std::vector<PipelinePass> pipeline_order(Schedule schedule, std::int64_t pp, std::int64_t vpp, std::int64_t m,
                                         std::int64_t rank);

/// Forward passes a rank has run before its first backward: the micro-batch chunks whose activations it holds
/// at its peak (1F1B: pp - rank; interleaved: 2(pp - rank - 1) + (vpp - 1) pp + 1 chunks; GPipe: all m*vpp).
std::int64_t peak_in_flight_chunks(Schedule schedule, std::int64_t pp, std::int64_t vpp, std::int64_t m,
                                   std::int64_t rank);

/// How many of those micro-batch chunks are of model chunk `chunk` (the first peak_in_flight_chunks forward passes in
/// schedule order); over the chunks they add up to peak_in_flight_chunks. With an uneven split the chunks of a rank
/// hold different layer counts, so the activations depend on which chunks are in flight.
std::int64_t peak_in_flight_of_chunk(Schedule schedule, std::int64_t pp, std::int64_t vpp, std::int64_t m,
                                     std::int64_t rank, std::int64_t chunk);

}  // namespace hpsim::planner
