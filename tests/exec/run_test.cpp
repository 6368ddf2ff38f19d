// run_plan: refuses a plan whose rank count is not the world's before any work; times steps; reads run files.
#include <doctest/doctest.h>
#include <mpi.h>

#include <string>

#include "core/error.hpp"
#include "exec/run.hpp"
#include "exec_test_util.hpp"

namespace hpsim::exec {

TEST_CASE("2ranks: a plan for another rank count is refused before any work") {
  const auto model = testing::tiny_gpt();
  const auto plan = testing::plan_of(2, 2, 1);  // 4 ranks
  try {
    run_plan(model, plan, RunOptions{}, MPI_COMM_WORLD);
    FAIL("expected an InputError");
  } catch (const core::InputError& e) {
    const std::string what = e.what();
    CHECK(what.find("needs 4 ranks") != std::string::npos);
    CHECK(what.find("MPI world has 2") != std::string::npos);
  }
}

TEST_CASE("2ranks: run_plan measures every step and agrees on the loss") {
  auto plan = testing::plan_of(2, 1, 0);  // dp derived from the world
  RunOptions opt;
  opt.steps = 2;
  opt.warmup = 1;
  const auto r = run_plan(testing::tiny_gpt(), plan, opt, MPI_COMM_WORLD);
  CHECK(r.ranks == 2);
  CHECK(r.plan.dp == 1);
  CHECK(r.step_times_s.size() == 2);
  CHECK(r.loss.size() == 2);
  CHECK(r.warmup_loss.size() == 1);
  CHECK(r.measured_step_time_s > 0);
  CHECK(r.loss[1] < r.warmup_loss[0]);
}

TEST_CASE("2ranks: unsupported features are refused with the field named") {
  auto plan = testing::plan_of(1, 1, 2);
  plan.vpp = 2;
  CHECK_THROWS_WITH_AS(resolve_run_plan(testing::tiny_gpt(), plan, 2), doctest::Contains("vpp"), core::InputError);
  plan = testing::plan_of(1, 2, 1);  // interleaved: 3 micro-batches do not divide by pp = 2
  plan.vpp = 2;
  plan.global_batch_size = 6;
  CHECK_THROWS_WITH_AS(resolve_run_plan(testing::tiny_gpt(4), plan, 2), doctest::Contains("vpp"), core::InputError);
  plan.global_batch_size = 8;  // 2 layers do not divide by pp * vpp = 4
  CHECK_THROWS_WITH_AS(resolve_run_plan(testing::tiny_gpt(2), plan, 2), doctest::Contains("vpp"), core::InputError);
  CHECK(resolve_run_plan(testing::tiny_gpt(4), plan, 2).vpp == 2);
  plan = testing::plan_of(1, 1, 2);
  RunOptions tpu;
  tpu.backend = "tpu";
  CHECK_THROWS_WITH_AS(run_plan(testing::tiny_gpt(), plan, tpu, MPI_COMM_WORLD),
                       doctest::Contains("backend"), core::InputError);
}

TEST_CASE("1rank: the example run files load and resolve") {
  for (const char* name : {"single", "tp2", "tp2sp", "llama_tp2", "cp2", "pp2", "pp2vpp2", "dp2"}) {
    const auto f = load_run_file(std::string(HPSIM_SOURCE_DIR) + "/examples/run/" + name + ".yaml");
    CHECK(f.cluster == "localhost");
    const int ranks = std::string(name) == "single" ? 1 : 2;
    const auto plan = resolve_run_plan(f.model, f.plan, ranks);
    CHECK(plan.gpus() == ranks);
  }
}

}  // namespace hpsim::exec
