#include "apps/plan_constraints.hpp"

#include <algorithm>
#include <utility>

#include "core/error.hpp"

namespace hpsim::apps {

namespace {

using planner::IntChoice;
using planner::SearchSpace;

const std::vector<std::pair<std::string, IntChoice SearchSpace::*>> kIntFlags = {
    {"--tp", &SearchSpace::tp},   {"--pp", &SearchSpace::pp},
    {"--cp", &SearchSpace::cp},   {"--ep", &SearchSpace::ep},
    {"--vpp", &SearchSpace::vpp}, {"--micro-batch-size", &SearchSpace::micro_batch_size},
    {"--zero", &SearchSpace::zero}, {"--parameter-servers", &SearchSpace::parameter_servers}};

/// Boolean fields the search may try both ways: true, false or both.
const std::vector<std::pair<std::string, std::vector<bool> SearchSpace::*>> kBoolChoiceFlags = {
    {"--sp", &SearchSpace::sp}, {"--flash-attention", &SearchSpace::flash_attention}};

/// Fields not searched: the flag sets them (alone: true).
const std::vector<std::pair<std::string, bool SearchSpace::*>> kBoolFlags = {
    {"--tp-across-nodes", &SearchSpace::tp_across_nodes},
    {"--tp-comm-overlap", &SearchSpace::tp_comm_overlap},
    {"--overlap-grad-reduce", &SearchSpace::overlap_grad_reduce},
    {"--overlap-param-gather", &SearchSpace::overlap_param_gather}};

std::string describe(const std::vector<bool>& values) {
  return values.size() == 2 ? "both" : values[0] ? "true" : "false";
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

/// A list of names, each mapped to a value; unknown names name the flag and the allowed set.
template <typename T>
std::vector<T> parse_list(const std::string& text, const std::string& flag,
                          const std::vector<std::pair<std::string, T>>& allowed) {
  std::vector<T> out;
  for (const auto& item : split(text)) {
    const auto it = std::find_if(allowed.begin(), allowed.end(), [&](const auto& a) { return a.first == item; });
    if (it == allowed.end()) {
      std::string names;
      for (const auto& a : allowed) names += (names.empty() ? "" : "|") + a.first;
      throw core::InputError("command line", flag, "expected a list of " + names + ", got '" + text + "'");
    }
    if (std::find(out.begin(), out.end(), it->second) == out.end()) out.push_back(it->second);
  }
  return out;
}

bool parse_bool(const std::string& text, const std::string& flag) {
  if (text.empty() || text == "true" || text == "1" || text == "on") return true;
  if (text == "false" || text == "0" || text == "off") return false;
  throw core::InputError("command line", flag, "expected true or false, got '" + text + "'");
}

}  // namespace

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
  auto record = [this](const std::string& flag) {
    return [this, flag](const std::string& v) { values[flag] = v; };
  };
  for (const auto& [flag, member] : kIntFlags)
    cmd->add_option_function<std::string>(flag, record(flag), "pin or bound: 8, 1,2,4, 4..16 or ..8");
  cmd->add_option_function<std::string>("--recompute", record("--recompute"), "list of none|selective|full");
  cmd->add_option_function<std::string>("--schedule", record("--schedule"), "list of 1f1b|gpipe");
  const SearchSpace defaults;  // the help states the planner's defaults
  for (const auto& [flag, member] : kBoolChoiceFlags)
    cmd->add_option_function<std::string>(
           flag, record(flag), "true, false or both (default " + describe(defaults.*member) + "; alone: true)")
        ->expected(0, 1);
  for (const auto& [flag, member] : kBoolFlags)
    cmd->add_option_function<std::string>(
           flag, record(flag), std::string("true or false (default ") + (defaults.*member ? "true" : "false") +
                                   "; alone: true)")
        ->expected(0, 1);
}

void ConstraintFlags::apply(SearchSpace& space) const {
  auto given = [this](const std::string& flag) -> const std::string* {
    const auto it = values.find(flag);
    return it == values.end() ? nullptr : &it->second;
  };
  for (const auto& [flag, member] : kIntFlags)
    if (const auto* text = given(flag)) space.*member = IntChoice::parse(*text, flag);
  if (const auto* text = given("--recompute"))
    space.recompute = parse_list<models::Recompute>(*text, "--recompute", {{"none", models::Recompute::none},
                                                                           {"selective", models::Recompute::selective},
                                                                           {"full", models::Recompute::full}});
  if (const auto* text = given("--schedule"))
    space.schedule = parse_list<planner::Schedule>(
        *text, "--schedule", {{"1f1b", planner::Schedule::one_f_one_b}, {"gpipe", planner::Schedule::gpipe}});
  for (const auto& [flag, member] : kBoolChoiceFlags)
    if (const auto* text = given(flag))
      space.*member = *text == "both" ? std::vector<bool>{false, true} : std::vector<bool>{parse_bool(*text, flag)};
  for (const auto& [flag, member] : kBoolFlags)
    if (const auto* text = given(flag)) space.*member = parse_bool(*text, flag);
}

}  // namespace hpsim::apps
