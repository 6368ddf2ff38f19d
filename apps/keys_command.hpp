#pragma once
/// `hpsim keys`: every plan key (planner/plan_fields.hpp) with its flag, type, default, whether the planner
/// searches it and what it means; `--format md` writes docs/plan_keys.md (scripts/gen_docs.sh).
#include "apps/output.hpp"

namespace hpsim::apps {

/// The table of plan keys in `format`.
std::string plan_keys_text(Format format);

}  // namespace hpsim::apps
