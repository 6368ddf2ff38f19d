#pragma once
/// The MPI communication backend (host buffers; CUDA-aware MPI would take device pointers as they are).
#include <mpi.h>

#include <vector>

#include "exec/comm_backend.hpp"

namespace hpsim::exec {

/// A CommBackend over one MPI communicator; owns (frees) the communicator when `owned`.
class MpiComm final : public CommBackend {
 public:
  MpiComm(MPI_Comm comm, bool owned);
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;
  ~MpiComm() override;
  [[nodiscard]] int rank() const override { return rank_; }
  [[nodiscard]] int size() const override { return size_; }
  [[nodiscard]] MPI_Comm comm() const { return comm_; }
  void all_reduce_sum(float* x, std::size_t n) override;
  void all_reduce_max(float* x, std::size_t n) override;
  void reduce_scatter_sum(const float* in, float* out, std::size_t n_per_rank) override;
  void all_gather(const float* in, float* out, std::size_t n_per_rank) override;
  void send(const float* x, std::size_t n, int peer, int tag) override;
  void recv(float* x, std::size_t n, int peer, int tag) override;
  void wait_sends() override;
  void barrier() override;
  void start_all_reduce_sum(float* x, std::size_t n) override;
  void start_reduce_scatter_sum(const float* in, float* out, std::size_t n_per_rank) override;
  void progress() override;
  void wait_started() override;

 private:
  MPI_Comm comm_;
  bool owned_;
  int rank_ = 0, size_ = 1;
  std::vector<MPI_Request> pending_;  ///< sends
  std::vector<MPI_Request> started_;  ///< non-blocking collectives
};

/// Throws std::runtime_error naming `what` when an MPI call did not return MPI_SUCCESS.
void check_mpi(int code, const char* what);

}  // namespace hpsim::exec
