#pragma once
/// The `hpsim plan` flags of every plan field, from the plan field table: a searched field's flag pins or bounds it
/// (--tp 8, --pp 4..16, --recompute none,selective, --sp both); any other field's flag sets it (--precision fp8).
#include <cstdint>
#include <map>
#include <string>

#include <CLI/CLI.hpp>

#include "planner/search_space.hpp"

namespace hpsim::apps {

/// The plan-field flags as given (key -> text); only the ones present constrain the search.
struct ConstraintFlags {
  std::map<std::string, std::string> values;
  bool tp_across_nodes = false;
  /// Registers every plan field's flag (and --tp-across-nodes) on `cmd`.
  void add(CLI::App* cmd);
  /// Narrows `space` by the flags present; a bad value is an InputError naming the field.
  void apply(planner::SearchSpace& space) const;
  [[nodiscard]] bool has(const std::string& key) const { return values.count(key) != 0; }
};

/// A positive integer flag value ("512"); anything else is an InputError naming `flag`.
std::int64_t positive_integer_flag(const std::string& text, const std::string& flag);

}  // namespace hpsim::apps
