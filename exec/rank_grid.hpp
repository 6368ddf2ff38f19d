#pragma once
/// Where this MPI rank sits in a plan (Megatron's order via planner::RankLayout) and its group communicators.
#include <mpi.h>

#include <functional>
#include <memory>

#include "exec/mpi_comm.hpp"
#include "planner/rank_layout.hpp"

namespace hpsim::exec {

/// Wraps one group's MPI communicator into the communication backend the trainer uses (NCCL); `point_to_point`:
/// the pipeline group (send/recv). Null factory: the MPI communicators themselves.
using CommFactory = std::function<std::unique_ptr<CommBackend>(MpiComm& group, bool point_to_point)>;

/// This rank's coordinates and its tp, cp, dp (the dp x cp ranks holding the same weights), pp and embedding (first +
/// last stage) communicators, built with
/// MPI_Comm_split over `world` (whose size must be the plan's rank count). Collective over `world`.
class RankGrid {
 public:
  RankGrid(const planner::Plan& plan, MPI_Comm world, const CommFactory& factory = nullptr);
  [[nodiscard]] const planner::RankCoord& coord() const { return coord_; }
  [[nodiscard]] int world_rank() const { return world_rank_; }
  [[nodiscard]] bool first_stage() const { return coord_.pp == 0; }
  [[nodiscard]] bool last_stage() const { return coord_.pp == pp_ - 1; }
  [[nodiscard]] MpiComm& world() { return *world_; }
  [[nodiscard]] CommBackend& tp() { return pick(tp_comm_, tp_dev_); }
  /// The ranks holding the same weights (dp x cp): the gradient reduction's group.
  [[nodiscard]] CommBackend& dp() { return pick(dp_comm_, dp_dev_); }
  /// The ranks sharing each sample's sequence (context parallelism).
  [[nodiscard]] CommBackend& cp() { return pick(cp_comm_, cp_dev_); }
  /// Ranks of this comm are pipeline stages.
  [[nodiscard]] CommBackend& pp() { return pick(pp_comm_, pp_dev_); }
  /// The first and last stage's ranks holding the tied word embedding; null when pp == 1 or a middle stage.
  [[nodiscard]] CommBackend* embedding() { return emb_comm_ ? &pick(emb_comm_, emb_dev_) : nullptr; }

 private:
  planner::RankCoord coord_;
  std::int64_t pp_;
  int world_rank_ = 0;
  static CommBackend& pick(const std::unique_ptr<MpiComm>& mpi, const std::unique_ptr<CommBackend>& dev) {
    return dev ? *dev : static_cast<CommBackend&>(*mpi);
  }
  std::unique_ptr<MpiComm> world_, tp_comm_, cp_comm_, dp_comm_, pp_comm_, emb_comm_;
  std::unique_ptr<CommBackend> tp_dev_, cp_dev_, dp_dev_, pp_dev_, emb_dev_;  ///< from the factory (destroyed first)
};

}  // namespace hpsim::exec
