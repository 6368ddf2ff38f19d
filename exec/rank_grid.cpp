#include "exec/rank_grid.hpp"

namespace hpsim::exec {

namespace {

std::unique_ptr<MpiComm> split(MPI_Comm world, int color, int key) {
  MPI_Comm c = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split(world, color, key, &c), "MPI_Comm_split");
  if (c == MPI_COMM_NULL) return nullptr;
  return std::make_unique<MpiComm>(c, true);
}

}  // namespace

RankGrid::RankGrid(const planner::Plan& plan, MPI_Comm world, const CommFactory& factory) : pp_(plan.pp) {
  check_mpi(MPI_Comm_rank(world, &world_rank_), "MPI_Comm_rank");
  world_ = std::make_unique<MpiComm>(world, false);
  const planner::RankLayout layout(plan);
  coord_ = layout.coord(world_rank_);
  const auto& c = coord_;
  const auto tp = plan.tp, cp = plan.cp, dp = plan.dp;
  // Colors name the group by the coordinates its members share; keys order members as RankLayout's groups do.
  tp_comm_ = split(world, static_cast<int>(c.cp + cp * (c.dp + dp * c.pp)), static_cast<int>(c.tp));
  cp_comm_ = split(world, static_cast<int>(c.tp + tp * (c.dp + dp * c.pp)), static_cast<int>(c.cp));
  dp_comm_ = split(world, static_cast<int>(c.tp + tp * c.pp), static_cast<int>(c.dp * cp + c.cp));
  const int replica = static_cast<int>(c.tp + tp * (c.cp + cp * c.dp));
  pp_comm_ = split(world, replica, static_cast<int>(c.pp));
  const bool holds_embedding = plan.pp > 1 && (c.pp == 0 || c.pp == plan.pp - 1);
  emb_comm_ = split(world, holds_embedding ? replica : MPI_UNDEFINED, static_cast<int>(c.pp));
  if (factory) {  // the same order on every rank: device communicators are created collectively
    tp_dev_ = factory(*tp_comm_, false);
    cp_dev_ = factory(*cp_comm_, false);
    dp_dev_ = factory(*dp_comm_, false);
    pp_dev_ = factory(*pp_comm_, true);
    if (emb_comm_) emb_dev_ = factory(*emb_comm_, false);
  }
}

}  // namespace hpsim::exec
