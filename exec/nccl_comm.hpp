#pragma once
/// The NCCL communication backend: one group's collectives and point-to-point on CUDA streams of their own, ordered
/// against the compute backend's stream with CUDA events. Built with HPSIM_BUILD_CUDA. This header needs no CUDA or
/// NCCL header.
#include <mpi.h>

#include <memory>

#include "exec/comm_backend.hpp"
#include "exec/compute_backend.hpp"

namespace hpsim::exec {

/// NCCL over the ranks of one MPI communicator (tp, dp, pp or embedding group). Rank 0 of the group makes the
/// ncclUniqueId, MPI_Bcast hands it out, every member calls ncclCommInitRank (collective over `group`; the caller's
/// device must be current). A group of one rank has no NCCL communicator (copies only).
///
/// Ordering: each operation first makes its stream wait for the work queued so far on the compute stream, and the
/// compute stream then waits for the operation (an event), so "blocking" means "ordered before later kernels": the
/// host does not wait. Collectives run on one stream. With `point_to_point`, two more NCCL communicators and
/// streams carry the messages going up (to a higher rank) and down, so that a send waiting for its receiver never
/// holds back a receive from the other side (what MPI's non-blocking sends give the 1F1B schedule); `tag` is not
/// needed: NCCL matches each direction's messages in order, as the schedules issue them.
///
/// On an NCCL failure the communicators are aborted (ncclCommAbort) and std::runtime_error is thrown.
class NcclComm final : public CommBackend {
 public:
  NcclComm(MPI_Comm group, ComputeBackend& backend, bool point_to_point);
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;
  ~NcclComm() override;
  [[nodiscard]] int rank() const override { return rank_; }
  [[nodiscard]] int size() const override { return size_; }
  void all_reduce_sum(float* x, std::size_t n) override;
  void all_reduce_max(float* x, std::size_t n) override;
  void reduce_scatter_sum(const float* in, float* out, std::size_t n_per_rank) override;
  void all_gather(const float* in, float* out, std::size_t n_per_rank) override;
  void send(const float* x, std::size_t n, int peer, int tag) override;
  void recv(float* x, std::size_t n, int peer, int tag) override;
  /// Orders the compute stream after every send queued so far (the buffers may then be reused by later kernels).
  void wait_sends() override;
  /// Waits for this group's streams, then MPI_Barrier.
  void barrier() override;
  /// On the collective stream after the compute stream's work so far, without making later compute work wait.
  void start_all_reduce_sum(float* x, std::size_t n) override;
  void start_reduce_scatter_sum(const float* in, float* out, std::size_t n_per_rank) override;
  /// Orders the compute stream after every collective started so far.
  void wait_started() override;

 private:
  struct Impl;
  void copy_alone(const float* in, float* out, std::size_t n);
  MPI_Comm group_;
  int rank_ = 0, size_ = 1;
  std::unique_ptr<Impl> impl_;
};

/// A RankGrid CommFactory-compatible maker: NCCL communicators on `backend`'s stream (a CUDA backend).
std::unique_ptr<CommBackend> make_nccl_comm(MPI_Comm group, ComputeBackend& backend, bool point_to_point);

}  // namespace hpsim::exec
