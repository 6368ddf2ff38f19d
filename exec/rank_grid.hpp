#pragma once
/// Where this MPI rank sits in a plan (Megatron's order via planner::RankLayout) and its group communicators.
#include <mpi.h>

#include <memory>

#include "exec/mpi_comm.hpp"
#include "planner/rank_layout.hpp"

namespace hpsim::exec {

/// This rank's coordinates and its tp, dp, pp and embedding (first + last stage) communicators, built with
/// MPI_Comm_split over `world` (whose size must be the plan's rank count). Collective over `world`.
class RankGrid {
 public:
  RankGrid(const planner::Plan& plan, MPI_Comm world);
  [[nodiscard]] const planner::RankCoord& coord() const { return coord_; }
  [[nodiscard]] int world_rank() const { return world_rank_; }
  [[nodiscard]] bool first_stage() const { return coord_.pp == 0; }
  [[nodiscard]] bool last_stage() const { return coord_.pp == pp_ - 1; }
  [[nodiscard]] MpiComm& world() { return *world_; }
  [[nodiscard]] MpiComm& tp() { return *tp_comm_; }
  [[nodiscard]] MpiComm& dp() { return *dp_comm_; }
  /// Ranks of this comm are pipeline stages.
  [[nodiscard]] MpiComm& pp() { return *pp_comm_; }
  /// The first and last stage's ranks holding the tied word embedding; null when pp == 1 or a middle stage.
  [[nodiscard]] MpiComm* embedding() { return emb_comm_.get(); }

 private:
  planner::RankCoord coord_;
  std::int64_t pp_;
  int world_rank_ = 0;
  std::unique_ptr<MpiComm> world_, tp_comm_, dp_comm_, pp_comm_, emb_comm_;
};

}  // namespace hpsim::exec
