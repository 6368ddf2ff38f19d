#pragma once
/// The two ways a request fails: bad input (exit 2) or a valid request with no feasible answer (exit 3).
#include <stdexcept>
#include <string>

namespace hpsim::core {

/// Bad input: names where (file), what (field) and what was expected. The CLI prints it on one line, exit 2.
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& where, const std::string& field, const std::string& expected)
      : std::runtime_error(compose(where, field, expected)), where_(where), field_(field) {}
  [[nodiscard]] const std::string& where() const { return where_; }
  [[nodiscard]] const std::string& field() const { return field_; }

 private:
  static std::string compose(const std::string& where, const std::string& field, const std::string& expected) {
    std::string s = where.empty() ? std::string("input") : where;
    if (!field.empty()) s += ": " + field;
    s += ": " + expected;
    // One line, as the contract promises: a quoted value (a multi-line YAML scalar) keeps its breaks as \n.
    std::string line;
    for (const char c : s) line += c == '\n' ? std::string("\\n") : c == '\r' ? std::string("\\r") : std::string(1, c);
    return line;
  }
  std::string where_, field_;
};

/// The request is well-formed but nothing feasible exists (e.g. no plan fits in memory). Exit 3.
class InfeasibleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace hpsim::core
