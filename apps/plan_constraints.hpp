#pragma once
/// The `hpsim plan` constraint flags (--tp 8, --pp 4..16, --recompute none,selective, --sp both, ...) as a SearchSpace.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "planner/search_space.hpp"

namespace hpsim::apps {

/// The constraint flags as given (flag -> text); only the ones present constrain the search.
struct ConstraintFlags {
  std::map<std::string, std::string> values;
  /// Registers every constraint flag on `cmd`.
  void add(CLI::App* cmd);
  /// Narrows `space` by the flags present; a bad value is an InputError naming the flag.
  void apply(planner::SearchSpace& space) const;
};

/// A positive integer flag value ("512"); anything else is an InputError naming `flag`.
std::int64_t positive_integer_flag(const std::string& text, const std::string& flag);

}  // namespace hpsim::apps
