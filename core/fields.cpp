#include "core/fields.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace hpsim::core {

YAML::Node parse_yaml_text(const std::string& text, const std::string& where) {
  try {
    // Every document: text after the first one (trailing junk after a JSON object) is an error, not ignored.
    const std::vector<YAML::Node> documents = YAML::LoadAll(text);
    if (documents.size() > 1)
      throw InputError(where, "", "expected one YAML or JSON document, found " + std::to_string(documents.size()) +
                                      " (text after the first one?)");
    return documents.empty() ? YAML::Node() : documents.front();
  } catch (const YAML::Exception& e) {
    throw InputError(where, "", "expected valid YAML or JSON (" + e.msg + " at line " +
                                    std::to_string(e.mark.line + 1) + ")");
  }
}

bool is_file(const std::string& spec) {
  std::error_code ec;
  return std::filesystem::is_regular_file(spec, ec);
}

YAML::Node load_yaml_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "cannot open the file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_yaml_text(buffer.str(), path);
}

Fields::Fields(YAML::Node node, std::string where) : node_(std::move(node)), where_(std::move(where)) {
  if (!node_.IsMap()) throw InputError(where_, "", "expected a mapping of keys to values");
}

bool Fields::has(const std::string& key) const {
  const YAML::Node v = node_[key];
  return v.IsDefined() && !v.IsNull();
}

namespace {

/// Levenshtein distance, for "did you mean" (keys are short).
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

/// The allowed key `key` most resembles, when one is close enough to be a typo rather than another word.
std::string closest_key(const std::string& key, const std::vector<std::string>& allowed) {
  std::string closest;
  std::size_t best = key.size() / 3 + 2;
  for (const auto& a : allowed)
    if (const std::size_t d = edit_distance(key, a); d < best) best = d, closest = a;
  return closest;
}

}  // namespace

void Fields::reject_unknown_keys(const std::vector<std::string>& allowed) const {
  for (const auto& entry : node_) {
    const std::string key = entry.first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string names;
    for (const auto& a : allowed) names += (names.empty() ? "" : ", ") + a;
    const std::string closest = closest_key(key, allowed);
    fail(key, closest.empty() ? "unknown key (expected one of " + names + ")"
                              : "unknown key; did you mean " + closest + "? (expected one of " + names + ")");
  }
}

std::vector<std::pair<std::string, std::string>> Fields::near_misses(const std::vector<std::string>& allowed) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& entry : node_) {
    const std::string key = entry.first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    if (std::string closest = closest_key(key, allowed); !closest.empty()) out.emplace_back(key, std::move(closest));
  }
  return out;
}

void Fields::fail(const std::string& key, const std::string& expected) const {
  throw InputError(where_, key, expected);
}

YAML::Node Fields::scalar(const std::string& key) const {
  const YAML::Node v = node_[key];
  if (!v.IsDefined() || v.IsNull()) fail(key, "missing (required)");
  if (!v.IsScalar()) fail(key, "expected a single value, got a list or mapping");
  return v;
}

double Fields::number(const std::string& key) const {
  const YAML::Node v = scalar(key);
  const std::string text = v.Scalar();
  try {
    std::size_t used = 0;
    const double d = std::stod(text, &used);
    if (used != text.size() || !std::isfinite(d)) throw std::invalid_argument(text);
    return d;
  } catch (const std::exception&) {
    fail(key, "expected a number, got '" + text + "'");
  }
}

double Fields::positive_number(const std::string& key) const {
  const double d = number(key);
  if (!(d > 0)) fail(key, "expected a positive number, got " + node_[key].Scalar());
  return d;
}

double Fields::non_negative_number(const std::string& key) const {
  const double d = number(key);
  if (d < 0) fail(key, "expected a number >= 0, got " + node_[key].Scalar());
  return d;
}

double Fields::number_or(const std::string& key, double fallback) const {
  return has(key) ? number(key) : fallback;
}

double Fields::positive_number_or(const std::string& key, double fallback) const {
  return has(key) ? positive_number(key) : fallback;
}

std::int64_t Fields::positive_integer(const std::string& key) const {
  const double d = number(key);
  if (d != std::floor(d) || d < 1 || d > 9.0e15)
    fail(key, "expected a positive integer, got " + node_[key].Scalar());
  return static_cast<std::int64_t>(d);
}

std::int64_t Fields::positive_integer_or(const std::string& key, std::int64_t fallback) const {
  return has(key) ? positive_integer(key) : fallback;
}

std::int64_t Fields::non_negative_integer_or(const std::string& key, std::int64_t fallback) const {
  if (!has(key)) return fallback;
  const double d = number(key);
  if (d != std::floor(d) || d < 0 || d > 9.0e15)
    fail(key, "expected an integer >= 0, got " + node_[key].Scalar());
  return static_cast<std::int64_t>(d);
}

std::string Fields::string(const std::string& key) const { return scalar(key).Scalar(); }

std::string Fields::string_or(const std::string& key, const std::string& fallback) const {
  return has(key) ? string(key) : fallback;
}

std::string Fields::choice_or(const std::string& key, const std::vector<std::string>& allowed,
                              const std::string& fallback) const {
  if (!has(key)) return fallback;
  const std::string v = string(key);
  for (const auto& a : allowed)
    if (v == a) return v;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  fail(key, "expected one of " + list + ", got '" + v + "'");
}

bool Fields::boolean_or(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const std::string v = scalar(key).Scalar();
  if (v == "true" || v == "True" || v == "yes" || v == "1") return true;
  if (v == "false" || v == "False" || v == "no" || v == "0") return false;
  fail(key, "expected true or false, got '" + v + "'");
}

Fields Fields::child(const std::string& key) const {
  const YAML::Node v = node_[key];
  if (!v.IsDefined() || v.IsNull()) fail(key, "missing (required)");
  if (!v.IsMap()) fail(key, "expected a mapping");
  return Fields(v, where_ + ": " + key);
}

}  // namespace hpsim::core
