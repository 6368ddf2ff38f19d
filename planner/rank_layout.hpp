#pragma once
/// Where each rank of a plan sits: Megatron's order (tp fastest, then cp, dp, pp) and the groups it talks in.
#include <cstdint>
#include <functional>
#include <vector>

#include "planner/plan.hpp"

namespace hpsim::planner {

using Groups = std::vector<std::vector<std::int64_t>>;

/// Coordinates of a rank in the (tp, cp, dp, pp) grid.
struct RankCoord {
  std::int64_t tp = 0, cp = 0, dp = 0, pp = 0;
};

/// Maps coordinates to global GPU ranks and lists the communicator groups, all of them (they run concurrently).
class RankLayout {
 public:
  explicit RankLayout(const Plan& plan);
  [[nodiscard]] std::int64_t rank(const RankCoord& c) const { return c.tp + tp_ * (c.cp + cp_ * (c.dp + dp_ * c.pp)); }
  [[nodiscard]] RankCoord coord(std::int64_t rank) const;
  [[nodiscard]] Groups tp_groups() const;
  [[nodiscard]] Groups cp_groups() const;
  /// Gradient reduction spans data and context parallel ranks (both hold the same weights).
  [[nodiscard]] Groups dp_groups() const;
  /// Expert-parallel groups: ep consecutive ranks of the dp*cp dimension.
  [[nodiscard]] Groups ep_groups() const;
  /// Every (sender, receiver) pair between pipeline stage `stage` and the next one (wrapping to 0).
  [[nodiscard]] Groups pp_pairs(std::int64_t stage) const;

 private:
  /// `count` groups; each rank goes to group_of(its coordinates).
  [[nodiscard]] Groups collect(std::int64_t count, const std::function<std::int64_t(const RankCoord&)>& group_of) const;
  std::int64_t tp_, cp_, dp_, pp_, ep_;
};

}  // namespace hpsim::planner
