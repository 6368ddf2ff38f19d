#include "exec/mpi_comm.hpp"

#include <stdexcept>
#include <string>

#include "exec/comm_wait.hpp"

namespace hpsim::exec {

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw std::runtime_error(std::string(what) + " failed: " + std::string(text, static_cast<std::size_t>(len)));
}

MpiComm::MpiComm(MPI_Comm comm, bool owned) : comm_(comm), owned_(owned) {
  check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

MpiComm::~MpiComm() {
  if (!pending_.empty()) MPI_Waitall(static_cast<int>(pending_.size()), pending_.data(), MPI_STATUSES_IGNORE);
  if (!started_.empty()) MPI_Waitall(static_cast<int>(started_.size()), started_.data(), MPI_STATUSES_IGNORE);
  if (owned_ && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiComm::all_reduce_sum(float* x, std::size_t n) {
  const CommunicationWait waiting;
  if (size_ == 1 || n == 0) return;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, x, static_cast<int>(n), MPI_FLOAT, MPI_SUM, comm_), "MPI_Allreduce");
}
void MpiComm::all_reduce_max(float* x, std::size_t n) {
  const CommunicationWait waiting;
  if (size_ == 1 || n == 0) return;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, x, static_cast<int>(n), MPI_FLOAT, MPI_MAX, comm_), "MPI_Allreduce");
}
void MpiComm::reduce_scatter_sum(const float* in, float* out, std::size_t n_per_rank) {
  const CommunicationWait waiting;
  check_mpi(MPI_Reduce_scatter_block(in, out, static_cast<int>(n_per_rank), MPI_FLOAT, MPI_SUM, comm_),
            "MPI_Reduce_scatter_block");
}
void MpiComm::all_gather(const float* in, float* out, std::size_t n_per_rank) {
  const CommunicationWait waiting;
  check_mpi(MPI_Allgather(in, static_cast<int>(n_per_rank), MPI_FLOAT, out, static_cast<int>(n_per_rank), MPI_FLOAT,
                          comm_),
            "MPI_Allgather");
}
void MpiComm::send(const float* x, std::size_t n, int peer, int tag) {
  MPI_Request req = MPI_REQUEST_NULL;
  check_mpi(MPI_Isend(x, static_cast<int>(n), MPI_FLOAT, peer, tag, comm_, &req), "MPI_Isend");
  pending_.push_back(req);
}
void MpiComm::recv(float* x, std::size_t n, int peer, int tag) {
  const CommunicationWait waiting;
  check_mpi(MPI_Recv(x, static_cast<int>(n), MPI_FLOAT, peer, tag, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
}
void MpiComm::wait_sends() {
  if (pending_.empty()) return;
  const CommunicationWait waiting;
  check_mpi(MPI_Waitall(static_cast<int>(pending_.size()), pending_.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  pending_.clear();
}
void MpiComm::barrier() {
  const CommunicationWait waiting;
  check_mpi(MPI_Barrier(comm_), "MPI_Barrier");
}

void MpiComm::start_all_reduce_sum(float* x, std::size_t n) {
  if (size_ == 1 || n == 0) return;
  MPI_Request req = MPI_REQUEST_NULL;
  check_mpi(MPI_Iallreduce(MPI_IN_PLACE, x, static_cast<int>(n), MPI_FLOAT, MPI_SUM, comm_, &req), "MPI_Iallreduce");
  started_.push_back(req);
}
void MpiComm::start_reduce_scatter_sum(const float* in, float* out, std::size_t n_per_rank) {
  MPI_Request req = MPI_REQUEST_NULL;
  check_mpi(MPI_Ireduce_scatter_block(in, out, static_cast<int>(n_per_rank), MPI_FLOAT, MPI_SUM, comm_, &req),
            "MPI_Ireduce_scatter_block");
  started_.push_back(req);
}
void MpiComm::progress() {
  if (started_.empty()) return;
  int done = 0;
  check_mpi(MPI_Testall(static_cast<int>(started_.size()), started_.data(), &done, MPI_STATUSES_IGNORE),
            "MPI_Testall");
  if (done != 0) started_.clear();
}
void MpiComm::wait_started() {
  if (started_.empty()) return;
  const CommunicationWait waiting;
  check_mpi(MPI_Waitall(static_cast<int>(started_.size()), started_.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  started_.clear();
}

}  // namespace hpsim::exec
