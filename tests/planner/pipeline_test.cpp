#include <doctest/doctest.h>

#include <set>
#include <tuple>
#include <vector>

#include "planner/pipeline_schedule.hpp"
#include "planner/step_graph.hpp"
#include "sim/engine.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

/// Costs of an idealized pipeline: forward f, backward 2f per chunk, free communication and optimizer.
StepCosts ideal_costs(std::int64_t p, std::int64_t v, double f) {
  StepCosts c;
  c.chunks.resize(static_cast<std::size_t>(p * v));
  for (auto& chunk : c.chunks) {
    chunk.forward = core::Seconds(f / static_cast<double>(v));
    chunk.backward = core::Seconds(2 * f / static_cast<double>(v));
    chunk.parameters = 0;
  }
  c.pp_send.assign(static_cast<std::size_t>(p), core::Seconds(0));
  c.memory_bandwidth = core::BytesPerSecond(1e30);
  c.kernel_overhead = core::Seconds(0);
  return c;
}

Plan pipeline_plan(std::int64_t p, std::int64_t v, std::int64_t m, Schedule s = Schedule::one_f_one_b) {
  Plan plan;
  plan.pp = p;
  plan.vpp = v;
  plan.dp = 1;
  plan.micro_batch_size = 1;
  plan.global_batch_size = m;
  plan.seq_length = 2048;
  plan.schedule = s;
  return plan;
}

double makespan(const StepCosts& costs, const Plan& plan) {
  const auto g = build_step_graph(costs, plan, RankMode::representative);
  return core::to_seconds(sim::simulate(g.graph).makespan).value();
}

}  // namespace

TEST_CASE("pipeline order: every (micro-batch, chunk) runs forward once and backward once, forward first") {
  for (auto [p, v, m] : {std::tuple{4, 1, 8}, std::tuple{4, 2, 8}, std::tuple{2, 3, 4}, std::tuple{8, 2, 16}}) {
    for (std::int64_t rank = 0; rank < p; ++rank) {
      const auto order = pipeline_order(Schedule::one_f_one_b, p, v, m, rank);
      CHECK(order.size() == static_cast<std::size_t>(2 * m * v));
      std::set<std::pair<std::int64_t, std::int64_t>> fwd, bwd;
      for (const auto& pass : order) {
        if (pass.forward) {
          CHECK(fwd.insert({pass.micro_batch, pass.chunk}).second);
        } else {
          CHECK(fwd.count({pass.micro_batch, pass.chunk}) == 1);
          CHECK(bwd.insert({pass.micro_batch, pass.chunk}).second);
        }
      }
      CHECK(bwd.size() == static_cast<std::size_t>(m * v));
    }
  }
}

TEST_CASE("pipeline order: 1F1B warm-up of p - rank - 1 forwards; peak activations p - rank micro-batches") {
  const auto order = pipeline_order(Schedule::one_f_one_b, 4, 1, 8, 0);
  for (int i = 0; i < 4; ++i) CHECK(order[static_cast<std::size_t>(i)].forward);
  CHECK_FALSE(order[4].forward);
  CHECK(peak_in_flight_chunks(Schedule::one_f_one_b, 4, 1, 8, 0) == 4);
  CHECK(peak_in_flight_chunks(Schedule::one_f_one_b, 4, 1, 8, 3) == 1);
  CHECK(peak_in_flight_chunks(Schedule::gpipe, 4, 1, 8, 2) == 8);
  // Interleaved: 2(p - 1) + (v - 1) p + 1 chunks on the first rank (Megatron's warm-up).
  CHECK(peak_in_flight_chunks(Schedule::one_f_one_b, 4, 2, 8, 0) == 2 * 3 + 4 + 1);
}

TEST_CASE("pipeline order: the peak's micro-batch chunks per model chunk are the first forwards of the order") {
  // An uneven split puts different layer counts in a rank's chunks, so the memory model asks which are in flight.
  for (auto [p, v, m] : {std::tuple{4, 1, 8}, std::tuple{4, 2, 8}, std::tuple{2, 3, 4}, std::tuple{8, 4, 16}}) {
    for (std::int64_t rank = 0; rank < p; ++rank) {
      const auto order = pipeline_order(Schedule::one_f_one_b, p, v, m, rank);
      const std::int64_t peak = peak_in_flight_chunks(Schedule::one_f_one_b, p, v, m, rank);
      std::vector<std::int64_t> counted(static_cast<std::size_t>(v), 0);
      std::int64_t forwards = 0;
      for (const auto& pass : order)
        if (pass.forward && forwards++ < peak) ++counted[static_cast<std::size_t>(pass.chunk)];
      std::int64_t sum = 0;
      for (std::int64_t c = 0; c < v; ++c) {
        CHECK(peak_in_flight_of_chunk(Schedule::one_f_one_b, p, v, m, rank, c) == counted[static_cast<std::size_t>(c)]);
        sum += peak_in_flight_of_chunk(Schedule::one_f_one_b, p, v, m, rank, c);
      }
      CHECK(sum == peak);
    }
  }
}

TEST_CASE("1F1B with free communication: step = (m + p - 1) (f + b), bubble (p - 1) / (m + p - 1)") {
  const double f = 0.010;
  for (auto [p, m] : {std::pair{1, 4}, std::pair{2, 8}, std::pair{4, 8}, std::pair{8, 32}}) {
    const double t = makespan(ideal_costs(p, 1, f), pipeline_plan(p, 1, m));
    CHECK(t == doctest::Approx((m + p - 1) * 3 * f).epsilon(1e-6));
    const double bubble = (t - m * 3 * f) / t;
    CHECK(bubble == doctest::Approx(double(p - 1) / double(m + p - 1)).epsilon(1e-6));
  }
}

TEST_CASE("GPipe with free communication has the same bubble as 1F1B") {
  const double f = 0.010;
  const double t = makespan(ideal_costs(4, 1, f), pipeline_plan(4, 1, 8, Schedule::gpipe));
  CHECK(t == doctest::Approx((8 + 4 - 1) * 3 * f).epsilon(1e-6));
}

TEST_CASE("interleaved 1F1B with free communication: bubble (p - 1) / (v m + p - 1)") {
  const double f = 0.012;
  for (auto [p, v, m] : {std::tuple{2, 2, 4}, std::tuple{4, 2, 8}, std::tuple{4, 3, 8}, std::tuple{8, 2, 16}}) {
    const double t = makespan(ideal_costs(p, v, f), pipeline_plan(p, v, m));
    const double ideal = m * 3 * f;
    CHECK((t - ideal) / t == doctest::Approx(double(p - 1) / double(v * m + p - 1)).epsilon(1e-6));
  }
}
