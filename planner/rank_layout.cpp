#include "planner/rank_layout.hpp"

namespace hpsim::planner {

RankLayout::RankLayout(const Plan& plan) : tp_(plan.tp), cp_(plan.cp), dp_(plan.dp), pp_(plan.pp), ep_(plan.ep) {}

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

Groups RankLayout::tp_groups() const {
  Groups g;
  for (std::int64_t s = 0; s < pp_; ++s)
    for (std::int64_t d = 0; d < dp_; ++d)
      for (std::int64_t c = 0; c < cp_; ++c) {
        auto& members = g.emplace_back();
        for (std::int64_t t = 0; t < tp_; ++t) members.push_back(rank({t, c, d, s}));
      }
  return g;
}

Groups RankLayout::cp_groups() const {
  Groups g;
  for (std::int64_t s = 0; s < pp_; ++s)
    for (std::int64_t d = 0; d < dp_; ++d)
      for (std::int64_t t = 0; t < tp_; ++t) {
        auto& members = g.emplace_back();
        for (std::int64_t c = 0; c < cp_; ++c) members.push_back(rank({t, c, d, s}));
      }
  return g;
}

Groups RankLayout::dp_groups() const {
  Groups g;
  for (std::int64_t s = 0; s < pp_; ++s)
    for (std::int64_t t = 0; t < tp_; ++t) {
      auto& members = g.emplace_back();
      for (std::int64_t d = 0; d < dp_; ++d)
        for (std::int64_t c = 0; c < cp_; ++c) members.push_back(rank({t, c, d, s}));
    }
  return g;
}

Groups RankLayout::ep_groups() const {
  Groups g;
  const std::int64_t width = dp_ * cp_;
  for (std::int64_t s = 0; s < pp_; ++s)
    for (std::int64_t t = 0; t < tp_; ++t)
      for (std::int64_t first = 0; first < width; first += ep_) {
        auto& members = g.emplace_back();
        for (std::int64_t j = first; j < first + ep_; ++j) members.push_back(rank({t, j % cp_, j / cp_, s}));
      }
  return g;
}

Groups RankLayout::pp_pairs(std::int64_t stage) const {
  Groups g;
  const std::int64_t next = (stage + 1) % pp_;
  for (std::int64_t d = 0; d < dp_; ++d)
    for (std::int64_t c = 0; c < cp_; ++c)
      for (std::int64_t t = 0; t < tp_; ++t) g.push_back({rank({t, c, d, stage}), rank({t, c, d, next})});
  return g;
}

}  // namespace hpsim::planner
