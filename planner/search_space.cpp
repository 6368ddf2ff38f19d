#include "planner/search_space.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "planner/framework.hpp"

namespace hpsim::planner {

bool IntChoice::allows(std::int64_t v) const {
  if (!values.empty()) return std::find(values.begin(), values.end(), v) != values.end();
  return v >= min && v <= max;
}

IntChoice parse_field_domain(const PlanField& field, const std::string& text, const std::string& where) {
  IntChoice c;
  c.min = field.min;
  c.max = field.max;
  if (field.type == FieldType::boolean && text == "both") {
    c.values = {0, 1};
    return c;
  }
  if (const auto dots = text.find(".."); dots != std::string::npos && field.type == FieldType::integer) {
    const std::string lo = text.substr(0, dots), hi = text.substr(dots + 2);
    if (!lo.empty()) c.min = parse_field_value(field, lo, where);
    if (!hi.empty()) c.max = parse_field_value(field, hi, where);
    if (c.min > c.max) throw core::InputError(where, std::string(field.key), "empty range '" + text + "'");
    return c;
  }
  std::size_t start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    const auto v = parse_field_value(field, text.substr(start, comma == std::string::npos ? std::string::npos
                                                                                          : comma - start), where);
    if (std::find(c.values.begin(), c.values.end(), v) == c.values.end()) c.values.push_back(v);
    if (comma == std::string::npos) return c;
    start = comma + 1;
  }
}

SearchSpace::SearchSpace() {
  for (const auto& f : plan_field_table()) {
    f.set(fixed, f.default_code);
    if (!f.searched) continue;
    IntChoice any;
    any.min = f.min;
    any.max = f.max;
    axis(f.id) = f.search_default.empty() ? any : parse_field_domain(f, std::string(f.search_default), "plan fields");
  }
}

void SearchSpace::set(PlanKey k, std::int64_t code) {
  const auto& f = plan_field(k);
  if (f.searched) axis(k) = IntChoice{{code}};
  else f.set(fixed, code);
  stated_[static_cast<std::size_t>(k)] = true;
}

void SearchSpace::constrain(PlanKey k, IntChoice choice) {
  axis(k) = std::move(choice);
  stated_[static_cast<std::size_t>(k)] = true;
}

Framework SearchSpace::framework() const {
  if (stated(PlanKey::framework)) return fixed.framework;
  const IntChoice& zero = axis(PlanKey::zero);
  return unstated_framework(zero.pinned() ? zero.values.front() : 0);
}

void SearchSpace::apply_framework_defaults() {
  const Framework fw = fixed.framework = framework();
  planner::apply_framework_defaults(fixed, [this](PlanKey k) { return k == PlanKey::framework || stated(k); });
  if (!stated(PlanKey::zero)) axis(PlanKey::zero) = IntChoice{framework_search_zero(fw)};
  // The recompute values as the framework runs them, each once (fsdp: selective and op_selective are one plan).
  auto& recompute = axis(PlanKey::recompute).values;
  std::vector<std::int64_t> mapped;
  for (const auto v : recompute) {
    const auto m = static_cast<std::int64_t>(framework_recompute(fw, static_cast<models::Recompute>(v)));
    if (std::find(mapped.begin(), mapped.end(), m) == mapped.end()) mapped.push_back(m);
  }
  recompute = mapped;
}

}  // namespace hpsim::planner
