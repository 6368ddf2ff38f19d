#include "apps/keys_command.hpp"

#include <nlohmann/json.hpp>

#include "planner/plan_fields.hpp"

namespace hpsim::apps {

std::string plan_keys_text(Format format) {
  TextTable t;
  t.header = {"key", "flag", "values", "default", "planner", "meaning"};
  nlohmann::json j = nlohmann::json::array();
  for (const auto& f : planner::plan_field_table()) {
    const std::string role = !f.searched                  ? "fixed (the flag sets it)"
                             : f.search_default.empty() ? "searched"
                                                        : "searched (unless pinned: " + std::string(f.search_default) + ")";
    t.rows.push_back({std::string(f.key), std::string(f.flag), planner::field_expectation(f),
                      std::string(f.default_text), role, std::string(f.help)});
    j.push_back({{"key", f.key}, {"flag", f.flag}, {"values", planner::field_expectation(f)},
                 {"default", f.default_text}, {"searched", f.searched}, {"search_default", f.search_default},
                 {"megatron_flag", f.megatron_flag}, {"help", f.help}});
  }
  return format == Format::json ? j.dump(2) + "\n" : t.render(format);
}

}  // namespace hpsim::apps
