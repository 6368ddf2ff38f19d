// Dynamic loss scaling (fp16's): a power-of-two scale leaves training unchanged; an overflowing one skips the step
// on every rank, backs off, and training then goes on.
#include <doctest/doctest.h>
#include <mpi.h>

#include <cmath>
#include <vector>

#include "exec/run.hpp"
#include "exec/trainer.hpp"
#include "exec_test_util.hpp"

namespace hpsim::exec {
namespace {

std::vector<float> weights(Trainer& t, ComputeBackend& be) {
  std::vector<float> host(t.shard().flat_size());
  be.download(host.data(), t.shard().param_data(), host.size());
  return host;
}

double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double d2 = 0, r2 = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d2 += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    r2 += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(d2 / r2);
}

}  // namespace

TEST_CASE("2ranks: loss scaling by a power of two leaves a tp=2 step unchanged") {
  const auto model = testing::tiny_gpt();
  const auto plan = resolve_run_plan(model, testing::plan_of(2, 1, 1), 2);
  auto be = make_cpu_backend();
  Trainer plain(model, plan, *be, MPI_COMM_WORLD);
  TrainerOptions o;
  o.loss_scaling.enabled = true;
  o.loss_scaling.initial_scale = 1024.0;
  Trainer scaled(model, plan, *be, MPI_COMM_WORLD, o);
  for (int i = 0; i < 3; ++i) CHECK(scaled.step() == doctest::Approx(plain.step()).epsilon(1e-9));
  CHECK(scaled.skipped_steps() == 0);
  CHECK(scaled.loss_scale() == 1024.0);
  CHECK(relative_difference(weights(scaled, *be), weights(plain, *be)) < 1e-6);
}

TEST_CASE("2ranks: an overflowing loss scale skips the step on every rank, backs off, then trains") {
  const auto model = testing::tiny_gpt();
  const auto plan = resolve_run_plan(model, testing::plan_of(1, 1, 2), 2);  // dp=2: both ranks must agree
  auto be = make_cpu_backend();
  TrainerOptions o;
  o.loss_scaling.enabled = true;
  // scale / tokens is beyond fp32's range (as 2^32 is beyond fp16's): the loss gradient itself is not finite.
  o.loss_scaling.initial_scale = std::ldexp(1.0, 200);
  o.loss_scaling.backoff = std::ldexp(1.0, -100);
  o.loss_scaling.hysteresis = 1;
  Trainer t(model, plan, *be, MPI_COMM_WORLD, o);
  const auto before = weights(t, *be);
  (void)t.step();
  CHECK(t.skipped_steps() == 1);
  CHECK(t.loss_scale() == std::ldexp(1.0, 100));
  CHECK(weights(t, *be) == before);  // skipped: nothing changed
  double first = 0, last = 0;
  for (int i = 0; i < 4; ++i) (i == 0 ? first : last) = t.step();
  CHECK(t.skipped_steps() == 1);
  CHECK(relative_difference(weights(t, *be), before) > 1e-4);
  CHECK(last < first);
}

TEST_CASE("2ranks: loss scaling grows the scale after a window of good steps, and hysteresis delays the backoff") {
  const auto model = testing::tiny_gpt();
  const auto plan = resolve_run_plan(model, testing::plan_of(2, 1, 1), 2);
  auto be = make_cpu_backend();
  TrainerOptions o;
  o.loss_scaling.enabled = true;
  o.loss_scaling.initial_scale = 256.0;
  o.loss_scaling.window = 2;
  Trainer t(model, plan, *be, MPI_COMM_WORLD, o);
  for (int i = 0; i < 4; ++i) (void)t.step();
  CHECK(t.loss_scale() == 1024.0);
  CHECK(t.skipped_steps() == 0);

  o.loss_scaling.initial_scale = std::ldexp(1.0, 200);
  o.loss_scaling.window = 1000;
  o.loss_scaling.hysteresis = 2;
  Trainer h(model, plan, *be, MPI_COMM_WORLD, o);
  (void)h.step();
  CHECK(h.skipped_steps() == 1);
  CHECK(h.loss_scale() == std::ldexp(1.0, 200));  // the first overflow only uses up the hysteresis
  (void)h.step();
  CHECK(h.skipped_steps() == 2);
  CHECK(h.loss_scale() == std::ldexp(1.0, 199));
}

}  // namespace hpsim::exec
