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
  CHECK(r.executed.plan.dp == 1);
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
  auto uneven = testing::plan_of(1, 2, 1);  // 4 layers as 1 + 3: a split Megatron allows, but the executor's is even
  uneven.decoder_first_pipeline_num_layers = 1;
  CHECK_THROWS_WITH_AS(resolve_run_plan(testing::tiny_gpt(4), uneven, 2), doctest::Contains("evenly"),
                       core::InputError);
  plan = testing::plan_of(1, 1, 2);
  RunOptions tpu;
  tpu.backend = "tpu";
  CHECK_THROWS_WITH_AS(run_plan(testing::tiny_gpt(), plan, tpu, MPI_COMM_WORLD),
                       doctest::Contains("backend"), core::InputError);
}

TEST_CASE("1rank: the executed run is one description: trained and predicted alike, its differences noted") {
  auto model = testing::tiny_llama();
  model.tie_embeddings = false;  // an untied head is trained untied, and predicted untied
  auto plan = testing::plan_of(1, 1, 1);
  plan.precision = topologies::Precision::fp8;
  plan.flash_attention = true;
  const ExecutedRun cpu = executed_run(model, plan, 1, "cpu");
  CHECK_FALSE(cpu.model.tie_embeddings);
  CHECK(cpu.plan.precision == topologies::Precision::fp32);
  CHECK_FALSE(cpu.plan.flash_attention);
  auto noted = [](const ExecutedRun& r, const std::string& start) {
    for (const auto& n : r.notes)
      if (n.rfind(start, 0) == 0) return true;
    return false;
  };
  CHECK(noted(cpu, "precision: ran fp32, not fp8"));
  CHECK(noted(cpu, "flash_attention: ran false, not true"));
  CHECK_FALSE(noted(cpu, "tp_comm_overlap"));  // asked as it runs: nothing to say
  const ExecutedRun gpu = executed_run(model, plan, 1, "cuda");
  CHECK(gpu.plan.precision == topologies::Precision::bf16);
  CHECK(noted(gpu, "precision: ran bf16, not fp8"));
  // The gradient reduction overlaps on a GPU's own stream, not on the CPU's polled MPI.
  plan = testing::plan_of(1, 1, 2);
  CHECK(executed_run(model, plan, 2, "cuda").prediction_plan().overlap_grad_reduce);
  CHECK_FALSE(executed_run(model, plan, 2, "cpu").prediction_plan().overlap_grad_reduce);
  CHECK(executed_run(model, plan, 2, "cpu").plan.overlap_grad_reduce);  // the run itself still starts buckets early
}

TEST_CASE("1rank: the run's plan rules are the planner's, with the planner's words") {
  auto plan = testing::plan_of(3, 1, 1);  // 3 does not divide the tiny model's heads
  try {
    (void)resolve_run_plan(testing::tiny_gpt(), plan, 3);
    FAIL("expected an InputError");
  } catch (const core::InputError& e) {
    CHECK(e.field() == "tp");
    CHECK(std::string(e.what()).find("must divide num_attention_heads") != std::string::npos);
  }
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
