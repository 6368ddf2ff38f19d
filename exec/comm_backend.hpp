#pragma once
/// The communication-backend interface: collectives and point-to-point over one group of ranks (MPI now, NCCL later).
#include <cstddef>

namespace hpsim::exec {

/// One communicator (a tp, dp, pp or embedding group, or the world). Buffers are the compute backend's device
/// pointers. Collectives are blocking; `send` may return before the data left (complete it with `wait_sends`).
class CommBackend {
 public:
  virtual ~CommBackend() = default;
  [[nodiscard]] virtual int rank() const = 0;
  [[nodiscard]] virtual int size() const = 0;
  virtual void all_reduce_sum(float* x, std::size_t n) = 0;
  virtual void all_reduce_max(float* x, std::size_t n) = 0;
  /// out (n_per_rank) = this rank's part of the sum of every rank's `in` (size() * n_per_rank).
  virtual void reduce_scatter_sum(const float* in, float* out, std::size_t n_per_rank) = 0;
  /// out (size() * n_per_rank) = every rank's `in` (n_per_rank), in rank order.
  virtual void all_gather(const float* in, float* out, std::size_t n_per_rank) = 0;
  /// Starts sending; `x` must stay valid until wait_sends().
  virtual void send(const float* x, std::size_t n, int peer, int tag) = 0;
  virtual void recv(float* x, std::size_t n, int peer, int tag) = 0;
  virtual void wait_sends() = 0;
  virtual void barrier() = 0;
  /// Non-blocking all-reduce and reduce-scatter, to overlap the gradient reduction with the backward: each starts
  /// and returns (its buffers must stay untouched); wait_started() completes all started so far; progress() lets
  /// them advance while the caller computes (MPI moves them only inside its calls). Every rank of the group starts
  /// them in the same order.
  virtual void start_all_reduce_sum(float* x, std::size_t n) = 0;
  virtual void start_reduce_scatter_sum(const float* in, float* out, std::size_t n_per_rank) = 0;
  virtual void progress() {}
  virtual void wait_started() = 0;
};

}  // namespace hpsim::exec
