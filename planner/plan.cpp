#include "planner/plan.hpp"

namespace hpsim::planner {

std::string to_string(models::Recompute r) { return std::string(kRecomputeNames[static_cast<std::size_t>(r)]); }

std::string to_string(Schedule s) { return s == Schedule::gpipe ? "gpipe" : "1f1b"; }

}  // namespace hpsim::planner
