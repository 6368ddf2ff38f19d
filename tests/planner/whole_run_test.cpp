#include <doctest/doctest.h>

#include <cmath>

#include "core/error.hpp"
#include "models/formulas.hpp"
#include "planner/stragglers.hpp"
#include "planner/whole_run.hpp"
#include "planner/whole_run_monte_carlo.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

/// A step of 10 s, 8 of them compute, on `gpus` GPUs, global batch 1024 of 4096 tokens.
StepResult synthetic_step(std::int64_t gpus) {
  StepResult r;
  r.plan.global_batch_size = 1024;
  r.plan.seq_length = 4096;
  r.plan.precision = topologies::Precision::bf16;
  r.gpus = gpus;
  r.step_time = core::Seconds(10);
  r.breakdown.compute = core::Seconds(8);
  return r;
}

models::ModelSpec llama_8b() { return models::load_model("llama3-8b"); }

}  // namespace

TEST_CASE("checkpoint intervals: Young's and Daly's closed forms") {
  // sqrt(2 * 20 * 10000) = 632.4555; Daly: x (1 + sqrt(0.001) / 3 + 0.001 / 9) - 20 = 619.1925.
  CHECK(young_interval_s(20, 10000) == doctest::Approx(632.4555320));
  CHECK(daly_interval_s(20, 10000) == doctest::Approx(619.1924715));
  // A checkpoint at least twice the MTBF: checkpoint every MTBF.
  CHECK(daly_interval_s(300, 100) == doctest::Approx(100));
}

TEST_CASE("expected wall time: Daly's complete model and its first-order limit") {
  CHECK(expected_attempt_s(100, 50, kNoInterruptions) == doctest::Approx(100));
  // L = M = 1000, R = 0: 1000 (e - 1); R = M ln 2 doubles it.
  CHECK(expected_attempt_s(1000, 0, 1000) == doctest::Approx(1718.281828));
  CHECK(expected_attempt_s(1000, 1000 * std::log(2.0), 1000) == doctest::Approx(3436.563657));
  // tau 600, C 20, R 600, M 1e6: first order (1 - (600 + 310) / 1e6) / (1 + 20 / 600) = 0.96686129; the complete
  // model differs in the 7th digit.
  CHECK(first_order_goodput(600, 20, 600, 1e6) == doctest::Approx(0.9668612903).epsilon(1e-9));
  CheckpointSchedule s{.segments = 1000, .segment_work_s = 600, .last_work_s = 0, .checkpoint_s = 20,
                       .restart_s = 600, .mtbf_s = 1e6};
  CHECK(1000 * 600 / expected_wall_s(s) == doctest::Approx(0.9668616754).epsilon(1e-9));
  // A short last segment ends in the final checkpoint too.
  s.last_work_s = 100;
  CHECK(expected_wall_s(s) == doctest::Approx(1000 * expected_attempt_s(620, 600, 1e6) +
                                              expected_attempt_s(120, 600, 1e6)));
}

TEST_CASE("checkpoint bytes: weights and optimizer state of the whole model") {
  const auto m = llama_8b();
  const double params = static_cast<double>(models::total_parameters(m));
  Plan p;
  CHECK(checkpoint_bytes(m, p) == doctest::Approx(params * (2 + 4 + 8)));
  p.precision = topologies::Precision::fp32;
  CHECK(checkpoint_bytes(m, p) == doctest::Approx(params * (4 + 8)));
  // FSDP2 holds the fp32 parameter as its own master: the same 12 bytes without a 16-bit copy.
  p.framework = Framework::fsdp;
  CHECK(checkpoint_bytes(m, p) == doctest::Approx(params * (4 + 8)));
  // 16-bit master and moments (NeMo's distributed_fused_adam with dtype bf16): 2 + 3 x 2 bytes.
  p = Plan{};
  p.optimizer_dtype = StateDtype::bf16;
  CHECK(checkpoint_bytes(m, p) == doctest::Approx(params * (2 + 6)));
  // Narayanan'21 §5.10: the 1T-parameter model's checkpoint is 13.8 TB.
  p = Plan{};
  p.precision = topologies::Precision::fp16;
  CHECK(checkpoint_bytes(models::load_model("gpt-1t"), p) == doctest::Approx(13.8e12).epsilon(0.03));
}

TEST_CASE("stragglers: a slow participant paces the synchronous step's compute") {
  SUBCASE("one slow GPU (its node slow for certain): compute 8 s of a 10 s step at 1.5x") {
    const auto e = straggler_effect(10, 8, 1, 1.0, 1.5);
    CHECK(e.chance == doctest::Approx(1));
    CHECK(e.paced_step_s == doctest::Approx(14));
    CHECK(e.loss == doctest::Approx(4.0 / 14.0));
  }
  SUBCASE("one node in four slow, in data parallel: 1 - 0.75^4 = 0.68359375 of the steps are paced") {
    const auto e = straggler_effect(10, 8, 4, 0.25, 1.5);
    CHECK(e.chance == doctest::Approx(0.68359375));
    CHECK(e.expected_step_s == doctest::Approx(12.734375));
    CHECK(e.loss == doctest::Approx(1 - 10 / 12.734375));
  }
  SUBCASE("none stated: no loss") {
    const auto e = straggler_effect(10, 8, 512, 0.0, 1.0);
    CHECK(e.expected_step_s == doctest::Approx(10));
    CHECK(e.loss == 0);
  }
}

TEST_CASE("whole run: 1e12 tokens on 16,384 GPUs with the base preset's interruptions and storage") {
  const auto m = llama_8b();
  const auto cluster = topologies::load_cluster("dgx-h100:2048");
  const auto w = whole_run(synthetic_step(16384), m, cluster, 1e12);
  CHECK(w.steps == 238419);  // ceil(1e12 / (1024 * 4096))
  CHECK(w.mtbf_s == doctest::Approx(86400 / (4.74e-4 * 16384)));  // 11125.4 s
  const double ckpt = static_cast<double>(models::total_parameters(m)) * 14;
  CHECK(w.checkpoint_bytes == doctest::Approx(ckpt));
  CHECK(w.checkpoint_write_s == doctest::Approx(ckpt / 273e9));
  CHECK(w.restart_s == doctest::Approx(600 + ckpt / 1000e9));
  // Daly's interval in whole steps of 10 s.
  const double daly = daly_interval_s(w.checkpoint_write_s, w.mtbf_s);
  CHECK(w.checkpoint_interval_steps == static_cast<std::int64_t>(std::round(daly / 10)));
  CHECK(w.ideal_s == doctest::Approx(2384190));
  CHECK(w.expected_interruptions == doctest::Approx(w.expected_s / w.mtbf_s));
  CHECK(w.goodput == doctest::Approx(w.ideal_s / w.expected_s));
  CHECK(w.goodput > 0.9);
  CHECK(w.goodput < 1.0);
  CHECK(w.gpu_hours == doctest::Approx(16384 * w.expected_s / 3600));
  CHECK_FALSE(w.cost_usd);  // the base preset states no price
  REQUIRE(w.energy_mwh);
  CHECK(*w.energy_mwh == doctest::Approx(16384 * 700 * w.expected_s / 3.6e9));
  REQUIRE(w.p50_s);
  REQUIRE(w.p90_s);
  CHECK(*w.p50_s <= *w.p90_s);
  CHECK(*w.p50_s == doctest::Approx(w.expected_s).epsilon(0.02));
  CHECK(w.straggler_loss == 0);
  // The same inputs print the same percentiles.
  CHECK(*whole_run(synthetic_step(16384), m, cluster, 1e12).p90_s == *w.p90_s);
}

TEST_CASE("whole run: without interruptions it is the steps and one final checkpoint; a price gives a cost") {
  auto cluster = topologies::load_cluster("dgx-h100:2");
  cluster.run.interruptions_per_gpu_day = 0;
  cluster.run.gpu_hour_price_usd = 2.5;
  const auto m = llama_8b();
  const auto w = whole_run(synthetic_step(16), m, cluster, 4194304.0 * 100);  // exactly 100 steps
  CHECK(w.steps == 100);
  CHECK(w.expected_interruptions == 0);
  CHECK(w.checkpoint_interval_steps == 100);
  CHECK(w.expected_s == doctest::Approx(1000 + w.checkpoint_write_s));
  REQUIRE(w.cost_usd);
  CHECK(*w.cost_usd == doctest::Approx(16 * w.expected_s / 3600 * 2.5));
  CHECK(*w.p50_s == doctest::Approx(w.expected_s));
  CHECK_THROWS_AS((void)whole_run(synthetic_step(16), m, cluster, 0), core::InputError);
  CHECK_THROWS_AS((void)whole_run(synthetic_step(16), m, cluster, 2e18), core::InputError);
}

TEST_CASE("Monte-Carlo: its mean is the closed form's within the sampling error, and it is seeded") {
  // Few interruptions per segment (tau << M) and many (tau ~ M, where the first-order model is far off).
  for (const CheckpointSchedule& s :
       {CheckpointSchedule{.segments = 500, .segment_work_s = 600, .last_work_s = 300, .checkpoint_s = 20,
                           .restart_s = 700, .mtbf_s = 11000},
        CheckpointSchedule{.segments = 50, .segment_work_s = 5000, .last_work_s = 0, .checkpoint_s = 500,
                           .restart_s = 2000, .mtbf_s = 4000}}) {
    const auto sample = sample_run_time(s, 4000, 7);
    const double closed = expected_wall_s(s);
    const double standard_error = sample.stddev_s / std::sqrt(4000.0);
    CAPTURE(closed);
    CAPTURE(sample.mean_s);
    CHECK(sample.stddev_s > 0);
    CHECK(std::abs(sample.mean_s - closed) < 4 * standard_error);
    CHECK(sample.p50_s <= sample.p90_s);
    CHECK(sample_run_time(s, 100, 7).p90_s == sample_run_time(s, 100, 7).p90_s);
    CHECK(sample_run_time(s, 100, 7).p90_s != sample_run_time(s, 100, 8).p90_s);
  }
}

TEST_CASE("whole run: beyond kMaxSampledInterruptions the Monte-Carlo is skipped, the closed form still given") {
  auto cluster = topologies::load_cluster("dgx-h100:2");
  cluster.run.interruptions_per_gpu_day = 100;  // 16 GPUs: an interruption every 54 s
  const auto w = whole_run(synthetic_step(16), llama_8b(), cluster, 1e12);
  CHECK(w.expected_interruptions > kMaxSampledInterruptions);
  CHECK_FALSE(w.p50_s);
  CHECK_FALSE(w.p90_s);
  CHECK(w.goodput < 0.5);
}
