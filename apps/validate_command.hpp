#pragma once
/// `hpsim validate FILE`: predict every case of a validation file beside its measured step time (MAPE, worst error,
/// Kendall's tau); a case hpsim cannot express is refused with its reason and makes the exit status 2 after all.
#include <string>

#include <CLI/CLI.hpp>

#include "apps/output.hpp"

namespace hpsim::apps {

struct ValidateArgs {
  std::string file;
  bool planner = false;  ///< also plan each case
};

CLI::App* add_validate_command(CLI::App& app, ValidateArgs& args);
int run_validate_command(const ValidateArgs& args, Format format);

}  // namespace hpsim::apps
