#pragma once
/// The space of plans the planner searches: every searched plan field free, pinned or bounded by the user; every
/// other field one value for all candidates. Both come from the plan field table (plan_fields.hpp).
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "planner/plan.hpp"
#include "planner/plan_fields.hpp"

namespace hpsim::planner {

/// Allowed values of a field, as integer codes (PlanField): any, a list ("1,2,4") or an inclusive range ("4..16").
struct IntChoice {
  std::vector<std::int64_t> values;  ///< empty: no list
  std::int64_t min = 1;
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
  [[nodiscard]] bool allows(std::int64_t v) const;
  [[nodiscard]] bool pinned() const { return values.size() == 1; }
};

/// A searched field's domain as written after its flag: integers "8", "1,2,4", "4..16", "..8", "2.."; booleans
/// "true", "false", "both"; choices a list of names ("none,selective"). A bad value gives parse_field_value's error.
IntChoice parse_field_domain(const PlanField& field, const std::string& text, const std::string& where);

/// What the user asks for: the fixed inputs and the constraints on every searched field.
struct SearchSpace {
  std::int64_t gpus = 0;  ///< GPUs to use; 0: the whole cluster
  /// The fields the search does not vary, as every candidate gets them; `fixed.global_batch_size` is required.
  Plan fixed;
  bool tp_across_nodes = false;  ///< allow tp larger than a node's GPUs

  SearchSpace();  ///< the table's defaults: fixed fields at their defaults, axes at their search defaults
  [[nodiscard]] IntChoice& axis(PlanKey k) { return axes_[static_cast<std::size_t>(k)]; }
  [[nodiscard]] const IntChoice& axis(PlanKey k) const { return axes_[static_cast<std::size_t>(k)]; }
  /// Sets a field to one value: an axis is pinned to it, a fixed field takes it. The field counts as stated.
  void set(PlanKey k, std::int64_t code);
  /// Bounds a searched field (the user's pin, list or range); it counts as stated.
  void constrain(PlanKey k, IntChoice choice);
  /// Whether the user set or bounded the field (a field left alone takes the framework's default).
  [[nodiscard]] bool stated(PlanKey k) const { return stated_[static_cast<std::size_t>(k)]; }
  /// The framework the search runs under: the stated one, else the one a plan of its pinned ZeRO stage takes
  /// (unstated_framework: fsdp when pinned to 3, megatron otherwise).
  [[nodiscard]] Framework framework() const;
  /// The framework's defaults (framework.hpp) on the fields not stated: attention kernel, execution, FP8 recipe,
  /// the ZeRO stages to try, and `recompute: selective` read as the framework means it.
  void apply_framework_defaults();

 private:
  std::array<IntChoice, kPlanKeyCount> axes_;  ///< used for the searched fields only
  std::array<bool, kPlanKeyCount> stated_{};
};

}  // namespace hpsim::planner
