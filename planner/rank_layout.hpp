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
  /// The experts' groups, as Megatron-Core forms them (parallel_state.py: a second grid over each stage's
  /// tp*cp*dp ranks in the order expert tp, ep, expert dp): expert-parallel groups of ep ranks etp apart, expert
  /// tensor-parallel groups of etp consecutive ranks, both together (the all-gather dispatcher's group), and the
  /// expert data-parallel groups that reduce the experts' gradients.
  [[nodiscard]] Groups ep_groups() const;
  [[nodiscard]] Groups etp_groups() const;
  [[nodiscard]] Groups tp_ep_groups() const;
  [[nodiscard]] Groups expert_dp_groups() const;
  /// Every (sender, receiver) pair between pipeline stage `stage` and the next one (wrapping to 0).
  [[nodiscard]] Groups pp_pairs(std::int64_t stage) const;

 private:
  /// `count` groups; each rank goes to group_of(its coordinates).
  [[nodiscard]] Groups collect(std::int64_t count, const std::function<std::int64_t(const RankCoord&)>& group_of) const;
  /// An expert grid coordinate (etp, ep or expert dp index) of a rank within its stage.
  [[nodiscard]] std::int64_t expert_index(const RankCoord& c, std::int64_t stride, std::int64_t size) const {
    return (c.tp + tp_ * (c.cp + cp_ * c.dp)) / stride % size;
  }
  std::int64_t tp_, cp_, dp_, pp_, ep_, etp_, edp_;
};

}  // namespace hpsim::planner
