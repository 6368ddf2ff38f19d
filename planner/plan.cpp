#include "planner/plan.hpp"

namespace hpsim::planner {

std::string to_string(models::Recompute r) {
  switch (r) {
    case models::Recompute::none: return "none";
    case models::Recompute::selective: return "selective";
    case models::Recompute::full: return "full";
  }
  return "none";
}

std::string to_string(Schedule s) { return s == Schedule::gpipe ? "gpipe" : "1f1b"; }

}  // namespace hpsim::planner
