#include "planner/search_space.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace hpsim::planner {

bool IntChoice::allows(std::int64_t v) const {
  if (!values.empty()) return std::find(values.begin(), values.end(), v) != values.end();
  return v >= min && v <= max;
}

IntChoice IntChoice::parse(const std::string& text, const std::string& field) {
  auto number = [&](const std::string& s) -> std::int64_t {
    try {
      std::size_t used = 0;
      const long long v = std::stoll(s, &used);
      if (used != s.size() || v < 0) throw std::invalid_argument(s);
      return v;
    } catch (const std::exception&) {
      throw core::InputError("command line", field,
                             "expected a value, a list (1,2,4) or a range (4..16) of integers >= 0, got '" + text + "'");
    }
  };
  IntChoice c;
  if (const auto dots = text.find(".."); dots != std::string::npos) {
    const std::string lo = text.substr(0, dots), hi = text.substr(dots + 2);
    c.min = lo.empty() ? 0 : number(lo);
    if (!hi.empty()) c.max = number(hi);
    if (c.min > c.max) throw core::InputError("command line", field, "empty range '" + text + "'");
    return c;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    c.values.push_back(number(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return c;
}

}  // namespace hpsim::planner
