#pragma once
/// Typed, checked access to the fields of a YAML/JSON mapping; every failure names the file and field.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace hpsim::core {

/// Parses YAML (or JSON, which yaml-cpp reads too) text; `where` names it in errors.
YAML::Node parse_yaml_text(const std::string& text, const std::string& where);
/// Reads and parses a file; a missing file or broken syntax is an InputError naming the file.
YAML::Node load_yaml_file(const std::string& path);
/// True when `spec` names an existing regular file.
bool is_file(const std::string& spec);

/// A mapping node plus where it came from ("file.yaml" or "file.yaml: cases[2].plan").
class Fields {
 public:
  /// Throws InputError unless `node` is a mapping.
  Fields(YAML::Node node, std::string where);

  [[nodiscard]] bool has(const std::string& key) const;
  [[nodiscard]] const YAML::Node& node() const { return node_; }
  [[nodiscard]] const std::string& where() const { return where_; }

  [[nodiscard]] double number(const std::string& key) const;
  [[nodiscard]] double positive_number(const std::string& key) const;
  [[nodiscard]] double non_negative_number(const std::string& key) const;
  [[nodiscard]] double number_or(const std::string& key, double fallback) const;
  [[nodiscard]] double positive_number_or(const std::string& key, double fallback) const;
  [[nodiscard]] std::int64_t positive_integer(const std::string& key) const;
  [[nodiscard]] std::int64_t positive_integer_or(const std::string& key, std::int64_t fallback) const;
  [[nodiscard]] std::int64_t non_negative_integer_or(const std::string& key, std::int64_t fallback) const;
  [[nodiscard]] std::string string(const std::string& key) const;
  [[nodiscard]] std::string string_or(const std::string& key, const std::string& fallback) const;
  /// A string restricted to `allowed` values; anything else names the allowed set.
  [[nodiscard]] std::string choice_or(const std::string& key, const std::vector<std::string>& allowed,
                                      const std::string& fallback) const;
  [[nodiscard]] bool boolean_or(const std::string& key, bool fallback) const;
  /// A nested mapping (required).
  [[nodiscard]] Fields child(const std::string& key) const;
  /// Throws InputError naming the first key not in `allowed`, with the allowed one it most resembles when one is
  /// close (a typo would otherwise be silently ignored and change the answer).
  void reject_unknown_keys(const std::vector<std::string>& allowed) const;
  /// The keys not in `allowed` that are close to one of it (likely misspellings), each paired with that key: for
  /// files whose other keys are ignored (a Hugging Face config.json).
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> near_misses(
      const std::vector<std::string>& allowed) const;
  /// Throws InputError(where, key, expected).
  [[noreturn]] void fail(const std::string& key, const std::string& expected) const;

 private:
  [[nodiscard]] YAML::Node scalar(const std::string& key) const;
  YAML::Node node_;
  std::string where_;
};

}  // namespace hpsim::core
