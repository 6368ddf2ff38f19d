#include "planner/rank_layout.hpp"

#include <algorithm>

namespace hpsim::planner {

RankLayout::RankLayout(const Plan& plan)
    : tp_(plan.tp), cp_(plan.cp), dp_(plan.dp), pp_(plan.pp), ep_(plan.ep), etp_(plan.expert_tp()),
      edp_(std::max<std::int64_t>(1, plan.tp * plan.cp * plan.dp / (plan.expert_tp() * plan.ep))) {}

RankCoord RankLayout::coord(std::int64_t r) const {
  RankCoord c;
  c.tp = r % tp_;
  r /= tp_;
  c.cp = r % cp_;
  r /= cp_;
  c.dp = r % dp_;
  c.pp = r / dp_;
  return c;
}

Groups RankLayout::collect(std::int64_t count, const std::function<std::int64_t(const RankCoord&)>& group_of) const {
  // Walking ranks in order keeps every group's members sorted by rank (ring order). The coordinates are stepped
  // rather than divided out of each rank, and every group (all of one size) is allocated once: the planner lists
  // the groups of every layout it meets.
  Groups groups(static_cast<std::size_t>(count));
  const std::int64_t world = tp_ * cp_ * dp_ * pp_;
  for (auto& g : groups) g.reserve(static_cast<std::size_t>(world / count));
  RankCoord c;
  std::int64_t r = 0;
  for (c.pp = 0; c.pp < pp_; ++c.pp)
    for (c.dp = 0; c.dp < dp_; ++c.dp)
      for (c.cp = 0; c.cp < cp_; ++c.cp)
        for (c.tp = 0; c.tp < tp_; ++c.tp) groups[static_cast<std::size_t>(group_of(c))].push_back(r++);
  return groups;
}

Groups RankLayout::tp_groups() const {
  return collect(cp_ * dp_ * pp_, [&](const RankCoord& c) { return c.cp + cp_ * (c.dp + dp_ * c.pp); });
}

Groups RankLayout::cp_groups() const {
  return collect(tp_ * dp_ * pp_, [&](const RankCoord& c) { return c.tp + tp_ * (c.dp + dp_ * c.pp); });
}

Groups RankLayout::dp_groups() const {
  return collect(tp_ * pp_, [&](const RankCoord& c) { return c.tp + tp_ * c.pp; });
}

Groups RankLayout::ep_groups() const {
  return collect(etp_ * edp_ * pp_, [&](const RankCoord& c) {
    return expert_index(c, 1, etp_) + etp_ * (expert_index(c, etp_ * ep_, edp_) + edp_ * c.pp);
  });
}

Groups RankLayout::etp_groups() const {
  return collect(ep_ * edp_ * pp_, [&](const RankCoord& c) {
    return expert_index(c, etp_, ep_) + ep_ * (expert_index(c, etp_ * ep_, edp_) + edp_ * c.pp);
  });
}

Groups RankLayout::tp_ep_groups() const {
  return collect(edp_ * pp_, [&](const RankCoord& c) { return expert_index(c, etp_ * ep_, edp_) + edp_ * c.pp; });
}

Groups RankLayout::expert_dp_groups() const {
  return collect(etp_ * ep_ * pp_, [&](const RankCoord& c) {
    return expert_index(c, 1, etp_) + etp_ * (expert_index(c, etp_, ep_) + ep_ * c.pp);
  });
}

Groups RankLayout::pp_pairs(std::int64_t stage) const {
  Groups g;
  g.reserve(static_cast<std::size_t>(dp_ * cp_ * tp_));
  const std::int64_t next = (stage + 1) % pp_;
  for (std::int64_t d = 0; d < dp_; ++d)
    for (std::int64_t c = 0; c < cp_; ++c)
      for (std::int64_t t = 0; t < tp_; ++t) g.push_back({rank({t, c, d, stage}), rank({t, c, d, next})});
  return g;
}

}  // namespace hpsim::planner
