// hpsim run / calibrate / localhost, end to end through the binary (mpirun -np 1 or 2).
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "run_test_util.hpp"
#include "../skip.hpp"
#include <sys/wait.h>
#include <unistd.h>

namespace {

using hpsim_test::Outcome;
using hpsim_test::slurp;

using hpsim_run_test::hpsim;
using hpsim_run_test::temp_dir;

const std::string kTiny = std::string(HPSIM_SOURCE_DIR) + "/tests/run/tiny_tp2.yaml";
// A quick calibration: a small GEMM grid, short windows.
const std::string kQuick = "--dims 32,64,128 --seconds-per-shape 0.003";

}  // namespace

TEST_CASE("run_calibrate: hpsim calibrate writes a cluster file that simulate accepts") {
  const std::string dir = temp_dir("calibrate");
  const std::string file = dir + "/machine.yaml";
  const auto c = hpsim("XDG_CACHE_HOME=" + dir, 2, "calibrate --backend cpu --out " + file + " " + kQuick);
  INFO(c.out << c.err);
  REQUIRE(c.code == 0);
  const std::string text = slurp(file);
  CHECK(text.find("# ranks: 2") != std::string::npos);
  // The measurements are a block of data, not comments.
  for (const char* s : {"calibration:\n  backend: cpu\n  ranks: 2\n", "  gemm:\n    fp32:\n", "  collectives:\n",
                        "    all_reduce:\n      ring: {latency_us: ", "    all_gather:\n", "  send_recv: {latency_us: "})
    CHECK_MESSAGE(text.find(s) != std::string::npos, s);
  CHECK(text.find("gpus_per_node: 2") != std::string::npos);
  const auto s = hpsim("XDG_CACHE_HOME=" + dir, 0, "simulate --plan " + kTiny + " --cluster " + file + " --format json");
  INFO(s.err);
  REQUIRE(s.code == 0);
  const auto j = nlohmann::json::parse(s.out);
  CHECK(j["step_time_s"].get<double>() > 0);
  CHECK(j["gpus"].get<int>() == 2);
}

TEST_CASE("run_cuda_calibrate: calibrate --backend cuda without a device fails cleanly, said once, exit 2") {
  const std::string dir = temp_dir("cuda_calibrate");
  const std::string file = dir + "/gpu.yaml";
  // Under mpirun (both ranks refuse together) and alone (a singleton MPI world).
  for (const int ranks : {2, 0}) {
    const auto c = hpsim("XDG_CACHE_HOME=" + dir, ranks,
                         "calibrate --backend cuda --out " + file + " --dims 256 --seconds-per-shape 0.001");
    INFO("ranks " << ranks << ": " << c.out << c.err);
    if (HPSIM_CUDA_BUILT && c.code == 0) {  // 2 ranks calibrated: one alone would too
      hpsim_test::skip("this machine has a CUDA device for every rank");
      return;
    }
    CHECK(c.code == 2);
    const std::string expected = HPSIM_CUDA_BUILT ? "hpsim: error: calibrate: --backend: no CUDA device: "
                                                  : "hpsim: error: calibrate: --backend: 'cuda' cannot be calibrated "
                                                    "by this build: it was built without CUDA";
    const auto at = c.err.find(expected);
    CHECK(at != std::string::npos);
    CHECK(c.err.find("hpsim: error:", at + 1) == std::string::npos);  // rank 0 alone says it
    CHECK(c.err.find("hpsim run: rank") == std::string::npos);        // no abort
    CHECK(!std::filesystem::exists(file));
  }
}

TEST_CASE("run_cuda_calibrate: run --backend cuda without a device fails cleanly before any work, exit 2") {
  const std::string dir = temp_dir("cuda_run");
  const auto c = hpsim("XDG_CACHE_HOME=" + dir, 2,
                       "run --backend cuda --steps 1 --warmup 0 --plan " + std::string(HPSIM_SOURCE_DIR) +
                           "/examples/run/tp2.yaml");
  INFO(c.out << c.err);
  if (HPSIM_CUDA_BUILT && c.code == 0) {
    hpsim_test::skip("this machine has a CUDA device for every rank");
    return;
  }
  CHECK(c.code == 2);
  const std::string expected = HPSIM_CUDA_BUILT ? "hpsim: error: run: --backend: no CUDA device: "
                                                : "hpsim: error: command line: --backend: 'cuda' is not available";
  const auto at = c.err.find(expected);
  CHECK(at != std::string::npos);
  CHECK(c.err.find("hpsim: error:", at + 1) == std::string::npos);
  CHECK(c.err.find("calibrating first") == std::string::npos);  // refused before calibrating
  CHECK(!std::filesystem::exists(dir + "/hpsim"));
}

TEST_CASE("run_cuda_cache: a cuda calibration in the localhost cache is not used for cpu runs") {
  const std::string dir = temp_dir("cuda_cache");
  const std::string env = "XDG_CACHE_HOME=" + dir;
  const std::string shared = dir + "/hpsim/localhost.yaml";
  // A 2-rank calibration whose block says cuda (what `calibrate --backend cuda` writes, without needing a GPU).
  REQUIRE(hpsim(env, 2, "calibrate " + kQuick).code == 0);
  std::string text = slurp(shared);
  const auto at = text.find("\n  backend: cpu\n");
  REQUIRE(at != std::string::npos);
  text.replace(at, std::string("\n  backend: cpu\n").size(), "\n  backend: cuda\n");
  std::ofstream(shared) << text;
  // run takes the CPU calibration of its rank count from its own file (made here quickly: run would make it too).
  REQUIRE(hpsim(env, 2, "calibrate --out " + dir + "/hpsim/localhost-2ranks.yaml " + kQuick).code == 0);
  const auto r = hpsim(env, 2, "run --plan " + kTiny + " --steps 1 --warmup 0 --format json");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["cluster_file"] == dir + "/hpsim/localhost-2ranks.yaml");
  CHECK(slurp(shared) == text);  // left as it was
}

TEST_CASE("run_localhost: localhost resolves to the calibration cache; run reports every contract field") {
  const std::string dir = temp_dir("localhost");
  const std::string env = "XDG_CACHE_HOME=" + dir;
  // No calibration yet: simulate says how to make one.
  const auto missing = hpsim(env, 0, "simulate --plan " + kTiny);
  CHECK(missing.code == 2);
  CHECK(missing.err.find("hpsim calibrate") != std::string::npos);
  CHECK(missing.err.find(dir + "/hpsim/localhost.yaml") != std::string::npos);
  // calibrate without --out writes the cache; then simulate and plan accept localhost.
  const auto c = hpsim(env, 2, "calibrate " + kQuick);
  INFO(c.err);
  REQUIRE(c.code == 0);
  REQUIRE(std::filesystem::exists(dir + "/hpsim/localhost.yaml"));
  CHECK(hpsim(env, 0, "simulate --plan " + kTiny).code == 0);
  CHECK(hpsim(env, 0, "simulate --plan " + kTiny + " --cluster localhost").code == 0);
  // run: 2 ranks, the cached 2-rank calibration (no new calibration).
  const auto r = hpsim(env, 2, "run --plan " + kTiny + " --steps 3 --warmup 1 --format json");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);  // only rank 0 printed: one JSON document
  for (const char* key : {"plan", "backend", "ranks", "measured_step_time_s", "step_times_s", "predicted_step_time_s",
                          "error", "loss", "notes"})
    CHECK_MESSAGE(j.contains(key), key);
  CHECK(j["ranks"] == 2);
  CHECK(j["backend"] == "cpu");
  CHECK(j["plan"]["tp"] == 2);
  CHECK(j["step_times_s"].size() == 3);
  CHECK(j["loss"].size() == 3);
  CHECK(j["cluster_file"] == dir + "/hpsim/localhost.yaml");
  const double m = j["measured_step_time_s"], p = j["predicted_step_time_s"], e = j["error"];
  CHECK(m > 0);
  CHECK(p > 0);
  CHECK(e == doctest::Approx((p - m) / m).epsilon(1e-9));
  // Table output: measured beside predicted, per-step losses.
  const auto t = hpsim(env, 2, "run --plan " + kTiny + " --steps 2 --warmup 0");
  INFO(t.err);
  CHECK(t.code == 0);
  CHECK(t.out.find("measured") != std::string::npos);
  CHECK(t.out.find("predicted") != std::string::npos);
  CHECK(t.out.find("loss") != std::string::npos);
}

TEST_CASE("run_ranks: a plan for another rank count is refused, naming the counts") {
  const std::string dir = temp_dir("ranks");
  const auto r = hpsim("XDG_CACHE_HOME=" + dir, 1, "run --plan " + kTiny);
  CHECK(r.code == 2);
  CHECK(r.err.find("the MPI world has 1 ranks") != std::string::npos);
  CHECK(r.err.find("tp*pp*cp = 2") != std::string::npos);
  CHECK(!std::filesystem::exists(dir + "/hpsim"));  // refused before any calibration
  // Without mpirun too (a singleton MPI world of one rank).
  const auto s = hpsim("XDG_CACHE_HOME=" + dir, 0, "run --plan " + kTiny);
  CHECK(s.code == 2);
  CHECK(s.err.find("the MPI world has 1 ranks") != std::string::npos);
  // A plan that fixes dp names both counts.
  const auto d = hpsim("XDG_CACHE_HOME=" + dir, 1, "run --plan " + std::string(HPSIM_SOURCE_DIR) + "/examples/run/dp2.yaml");
  CHECK(d.code == 2);
  CHECK(d.err.find("needs 2 ranks") != std::string::npos);
  CHECK(d.err.find("mpirun -np 2") != std::string::npos);
}

TEST_CASE("run_timeout: a step over --step-timeout-s aborts every rank, naming one") {
  const std::string dir = temp_dir("timeout");
  const std::string env = "XDG_CACHE_HOME=" + dir;
  REQUIRE(hpsim(env, 2, "calibrate " + kQuick).code == 0);
  // The pre-flight refuses a step predicted slower than the timeout, before any training...
  const auto refused = hpsim(env, 2, "run --plan " + kTiny + " --step-timeout-s 1e-6");
  CHECK(refused.code == 2);
  CHECK(refused.err.find("refused before running") != std::string::npos);
  CHECK(refused.err.find("--step-timeout-s 1e-06 s") != std::string::npos);
  // ...and without it the watchdog aborts the step.
  const auto r = hpsim(env, 2, "run --plan " + kTiny + " --step-timeout-s 1e-6 --no-preflight");
  CHECK(r.code == 1);
  CHECK(r.err.find("did not finish within --step-timeout-s") != std::string::npos);
  CHECK(r.err.find("hpsim run: ") != std::string::npos);
}

TEST_CASE("run_spelled: a preset spelled out in full without preset: predicts exactly what the preset does") {
  // GPT-3 175B on 1,024 GPUs (Narayanan et al. 2021's plan); both clusters start from presets/base.yaml.
  const std::string plan = "simulate --model gpt3-175b --tp 8 --pp 8 --global-batch-size 1536 --recompute full "
                           "--precision fp16 --format json --cluster ";
  for (const auto& [preset, file] : {std::pair{"dgx-a100-80gb:128", "dgx_a100_80gb_spelled.yaml"},
                                     std::pair{"dgx-h100:128", "dgx_h100_spelled.yaml"}}) {
    CAPTURE(preset);
    const auto a = hpsim("HPSIM_TEST=1", 0, plan + preset);
    const auto b = hpsim("HPSIM_TEST=1", 0, plan + std::string(HPSIM_SOURCE_DIR) + "/tests/run/" + file);
    INFO(a.err << b.err);
    REQUIRE(a.code == 0);
    REQUIRE(b.code == 0);
    const double ta = nlohmann::json::parse(a.out)["step_time_s"].get<double>();
    CHECK(ta > 0);
    CHECK(ta == nlohmann::json::parse(b.out)["step_time_s"].get<double>());
  }
}
