#include "apps/plan_constraints.hpp"

#include "apps/plan_flags.hpp"
#include "core/error.hpp"

namespace hpsim::apps {

std::int64_t positive_integer_flag(const std::string& text, const std::string& flag) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v < 1)
    throw core::InputError("command line", flag, "expected a positive integer, got '" + text + "'");
  return v;
}

void ConstraintFlags::add(CLI::App* cmd) {
  const planner::SearchSpace defaults;  // the help states the planner's defaults
  add_plan_field_flags(cmd, values, [&](const planner::PlanField& f) {
    if (!f.searched) return std::string(f.help) + " (default " + std::string(f.default_text) + ")";
    const std::string domain = f.search_default.empty() ? std::string("any") : std::string(f.search_default);
    if (f.type == planner::FieldType::integer) return "pin or bound: 8, 1,2,4, 4..16 or ..8 (default " + domain + ")";
    if (f.type == planner::FieldType::boolean) return "true, false or both (default " + (f.search_default.empty() ? std::string("both") : domain) + "; alone: true)";
    return "a list of " + planner::field_expectation(f) + " (default " + (f.search_default.empty() ? std::string("all") : domain) + ")";
  });
  cmd->add_flag("--tp-across-nodes", tp_across_nodes, "allow tp larger than a node's GPUs");
}

void ConstraintFlags::apply(planner::SearchSpace& space) const {
  for (const auto& [key, text] : values) {
    const auto& f = *planner::find_plan_field(key);
    if (f.searched) space.constrain(f.id, planner::parse_field_domain(f, text, "command line"));
    else space.set(f.id, planner::parse_field_value(f, text, "command line"));
  }
  space.tp_across_nodes = tp_across_nodes;
}

}  // namespace hpsim::apps
