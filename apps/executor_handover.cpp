#include "apps/executor_handover.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

// Set by apps/CMakeLists.txt: whether hpsim-run is built beside hpsim, and with which backends.
#ifndef HPSIM_VERSION
#define HPSIM_VERSION "unknown"
#endif
#ifndef HPSIM_EXECUTOR_BACKENDS
#define HPSIM_EXECUTOR_BACKENDS ""
#endif

namespace hpsim::apps {

namespace {

constexpr bool kExecutorBuilt = sizeof(HPSIM_EXECUTOR_BACKENDS) > 1;

bool is_executable(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

}  // namespace

void add_executor_commands(CLI::App& app, ExecutorCommands& c, const std::function<void(CLI::App*)>& add_format) {
  c.run = add_run_command(app, c.run_args);
  add_format(c.run);
  c.calibrate = add_calibrate_command(app, c.calibrate_args);
  add_format(c.calibrate);
}

std::string executor_path() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return (self.parent_path() / "hpsim-run").string();
}

int hand_over_to_executor(const std::string& command, char** argv) {
  const std::string path = executor_path();
  if (!kExecutorBuilt) {
    std::cerr << "hpsim " << command << ": " << kNoExecutor << "\n";
    return 2;
  }
  if (!is_executable(path)) {
    std::cerr << "hpsim " << command << ": the executor " << (path.empty() ? "hpsim-run" : path)
              << " is missing (this build has one: cmake --build build --target hpsim-run)\n";
    return 2;
  }
  // Nothing is buffered yet, but exec would drop whatever were.
  std::cout.flush();
  std::fflush(nullptr);
  ::execv(path.c_str(), argv);
  std::cerr << "hpsim " << command << ": cannot start " << path << ": " << std::strerror(errno) << "\n";
  return 1;
}

std::string version_text() {
  std::string s = std::string("hpsim ") + HPSIM_VERSION + "\ncommit " + HPSIM_GIT_COMMIT + ", build type " +
                  HPSIM_BUILD_TYPE + "\n";
  const std::string path = executor_path();
  if (!kExecutorBuilt)
    s += "executor (run, calibrate): not built (needs MPI and OpenBLAS when configuring)";
  else if (is_executable(path))
    s += "executor (run, calibrate): " + path + ", backends " + HPSIM_EXECUTOR_BACKENDS;
  else
    s += std::string("executor (run, calibrate): built with backends ") + HPSIM_EXECUTOR_BACKENDS + ", but " +
         (path.empty() ? "hpsim-run" : path) + " is missing";
  return s;
}

}  // namespace hpsim::apps
