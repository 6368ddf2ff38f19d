/// Whole-process cost of the hpsim binary as a user meets it: spawn (posix_spawn), load, parse, compute, print to
/// /dev/null, exit, in real time. Targets on the 2-core machine: `hpsim models` <= 30 ms, the GPT-3 175B plan on
/// 1024 A100 <= 0.3 s. The binary is the build's hpsim (HPSIM_BINARY, set by bench/CMakeLists.txt) unless the
/// environment's HPSIM_BINARY names another.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace {

std::string hpsim_binary() {
  const char* env = std::getenv("HPSIM_BINARY");
  return env != nullptr && *env != '\0' ? env : HPSIM_BINARY;
}

/// The environment without GLIBC_TUNABLES: bench/ci_bench.sh pins the allocator for the in-process benchmarks, and
/// a user's hpsim runs with glibc's defaults.
std::vector<char*> child_environment() {
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "GLIBC_TUNABLES=", 15) != 0) env.push_back(*e);
  env.push_back(nullptr);
  return env;
}

void run_hpsim(benchmark::State& state, std::vector<std::string> args) {
  const std::string binary = hpsim_binary();
  args.insert(args.begin(), binary);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> env = child_environment();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  for (auto _ : state) {
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), env.data());
    if (rc != 0) {
      state.SkipWithError(("cannot start " + binary + ": " + std::strerror(rc)).c_str());
      break;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError((binary + " " + args[1] + " failed").c_str());
      break;
    }
  }
  posix_spawn_file_actions_destroy(&actions);
}

void BM_ProcessModels(benchmark::State& state) { run_hpsim(state, {"models"}); }

/// The built-in example: GPT-3 175B on 128 DGX A100 nodes, one plan.
void BM_ProcessSimulate(benchmark::State& state) { run_hpsim(state, {"simulate"}); }

void BM_ProcessPlanGpt3_175B_1024A100(benchmark::State& state) {
  run_hpsim(state, {"plan", "--model", "gpt3-175b", "--cluster", "dgx-a100-80gb:128", "--global-batch-size", "1536"});
}

}  // namespace

BENCHMARK(BM_ProcessModels)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ProcessSimulate)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ProcessPlanGpt3_175B_1024A100)->Unit(benchmark::kMillisecond)->UseRealTime();
