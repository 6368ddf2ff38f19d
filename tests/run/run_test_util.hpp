#pragma once
// The hpsim binary under mpirun, for the tests of hpsim run / calibrate (tests/run).
#include <filesystem>
#include <string>

#include <unistd.h>

#include "../cli/run_hpsim.hpp"

namespace hpsim_run_test {

/// Runs `env ENV hpsim ARGS` (under mpirun -np RANKS when ranks > 0).
inline hpsim_test::Outcome hpsim(const std::string& env, int ranks, const std::string& args) {
  std::string cmd = "env " + env + " ";
  if (ranks > 0) cmd += std::string(HPSIM_MPIRUN) + " -np " + std::to_string(ranks) + " ";
  return hpsim_test::run_command_line(cmd + std::string(HPSIM_BINARY) + " " + args);
}

/// A fresh, empty directory unique to this test process.
inline std::string temp_dir(const std::string& name) {
  const auto d = std::filesystem::temp_directory_path() / ("hpsim_run_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

}  // namespace hpsim_run_test
