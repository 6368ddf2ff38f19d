#include "exec/nccl_comm.hpp"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <stdexcept>
#include <string>

#include "exec/cuda_backend.hpp"
#include "exec/cuda_check.hpp"
#include "exec/mpi_comm.hpp"

namespace hpsim::exec {

namespace {

/// One NCCL communicator with its stream and the event recorded after its latest operation.
struct Channel {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t done = nullptr;
};

}  // namespace

struct NcclComm::Impl {
  cudaStream_t compute = nullptr;
  cudaEvent_t ready = nullptr;  ///< recorded on the compute stream before each operation
  Channel coll, up, down;
  bool failed = false;

  Channel* channels[3] = {&coll, &up, &down};

  void abort_all() noexcept {
    failed = true;
    for (Channel* c : channels)
      if (c->comm != nullptr) {
        ncclCommAbort(c->comm);
        c->comm = nullptr;
      }
  }
  void check(ncclResult_t r, const Channel& c, const char* what) {
    if (r == ncclSuccess) return;
    std::string text = std::string("NCCL: ") + what + ": " + ncclGetErrorString(r);
    if (c.comm != nullptr) {
      const char* last = ncclGetLastError(c.comm);
      if (last != nullptr && *last != '\0') text += " (" + std::string(last) + ")";
    }
    abort_all();
    throw std::runtime_error(text);
  }
  void open(Channel& c, MPI_Comm group, int rank, int size) {
    ncclUniqueId id{};
    if (rank == 0) check(ncclGetUniqueId(&id), c, "ncclGetUniqueId");
    check_mpi(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, group), "MPI_Bcast (ncclUniqueId)");
    check_cuda(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking), "cudaStreamCreate");
    check_cuda(cudaEventCreateWithFlags(&c.done, cudaEventDisableTiming), "cudaEventCreate");
    check(ncclCommInitRank(&c.comm, size, id, rank), c, "ncclCommInitRank");
  }
  /// The channel's stream waits for the compute stream's work so far.
  void before(Channel& c) {
    check_cuda(cudaEventRecord(ready, compute), "cudaEventRecord");
    check_cuda(cudaStreamWaitEvent(c.stream, ready, 0), "cudaStreamWaitEvent");
  }
  void recorded(Channel& c) { check_cuda(cudaEventRecord(c.done, c.stream), "cudaEventRecord"); }
  /// Later compute work waits for the channel's latest operation.
  void after(Channel& c) {
    recorded(c);
    check_cuda(cudaStreamWaitEvent(compute, c.done, 0), "cudaStreamWaitEvent");
  }
};

NcclComm::NcclComm(MPI_Comm group, ComputeBackend& backend, bool point_to_point)
    : group_(group), impl_(std::make_unique<Impl>()) {
  check_mpi(MPI_Comm_rank(group, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(group, &size_), "MPI_Comm_size");
  impl_->compute = static_cast<cudaStream_t>(cuda_stream_of(backend));
  if (impl_->compute == nullptr) throw std::invalid_argument("NcclComm: the compute backend is not a CUDA backend");
  check_cuda(cudaEventCreateWithFlags(&impl_->ready, cudaEventDisableTiming), "cudaEventCreate");
  if (size_ == 1) return;
  impl_->open(impl_->coll, group, rank_, size_);
  if (point_to_point) {
    impl_->open(impl_->up, group, rank_, size_);
    impl_->open(impl_->down, group, rank_, size_);
  }
}

NcclComm::~NcclComm() {
  for (Channel* c : impl_->channels) {
    if (c->stream != nullptr) cudaStreamSynchronize(c->stream);
    if (c->comm != nullptr) {
      if (impl_->failed)
        ncclCommAbort(c->comm);
      else
        ncclCommDestroy(c->comm);
    }
    if (c->done != nullptr) cudaEventDestroy(c->done);
    if (c->stream != nullptr) cudaStreamDestroy(c->stream);
  }
  if (impl_->ready != nullptr) cudaEventDestroy(impl_->ready);
}

void NcclComm::all_reduce_sum(float* x, std::size_t n) {
  start_all_reduce_sum(x, n);
  wait_started();
}

void NcclComm::all_reduce_max(float* x, std::size_t n) {
  if (size_ == 1 || n == 0) return;
  auto& c = impl_->coll;
  impl_->before(c);
  impl_->check(ncclAllReduce(x, x, n, ncclFloat, ncclMax, c.comm, c.stream), c, "ncclAllReduce (max)");
  impl_->after(c);
}

void NcclComm::copy_alone(const float* in, float* out, std::size_t n) {
  // A one-rank group's reduce-scatter or all-gather is a copy (none when in place).
  if (in != out)
    check_cuda(cudaMemcpyAsync(out, in, n * sizeof(float), cudaMemcpyDeviceToDevice, impl_->compute),
               "cudaMemcpyAsync");
}

void NcclComm::reduce_scatter_sum(const float* in, float* out, std::size_t n_per_rank) {
  start_reduce_scatter_sum(in, out, n_per_rank);
  wait_started();
}

void NcclComm::all_gather(const float* in, float* out, std::size_t n_per_rank) {
  if (n_per_rank == 0) return;
  if (size_ == 1) return copy_alone(in, out, n_per_rank);
  auto& c = impl_->coll;
  impl_->before(c);
  impl_->check(ncclAllGather(in, out, n_per_rank, ncclFloat, c.comm, c.stream), c, "ncclAllGather");
  impl_->after(c);
}

void NcclComm::start_all_reduce_sum(float* x, std::size_t n) {
  if (size_ == 1 || n == 0) return;
  auto& c = impl_->coll;
  impl_->before(c);
  impl_->check(ncclAllReduce(x, x, n, ncclFloat, ncclSum, c.comm, c.stream), c, "ncclAllReduce");
  impl_->recorded(c);
}

void NcclComm::start_reduce_scatter_sum(const float* in, float* out, std::size_t n_per_rank) {
  if (n_per_rank == 0) return;
  if (size_ == 1) return copy_alone(in, out, n_per_rank);
  auto& c = impl_->coll;
  impl_->before(c);
  impl_->check(ncclReduceScatter(in, out, n_per_rank, ncclFloat, ncclSum, c.comm, c.stream), c, "ncclReduceScatter");
  impl_->recorded(c);
}

void NcclComm::wait_started() {
  if (impl_->coll.comm != nullptr) check_cuda(cudaStreamWaitEvent(impl_->compute, impl_->coll.done, 0), "cudaStreamWaitEvent");
}

void NcclComm::send(const float* x, std::size_t n, int peer, int /*tag*/) {
  auto& c = peer > rank_ ? impl_->up : impl_->down;
  if (c.comm == nullptr) throw std::logic_error("NcclComm::send: not a point-to-point group (or a group of one)");
  impl_->before(c);
  impl_->check(ncclSend(x, n, ncclFloat, peer, c.comm, c.stream), c, "ncclSend");
  impl_->recorded(c);  // the compute stream does not wait (wait_sends)
}

void NcclComm::recv(float* x, std::size_t n, int peer, int /*tag*/) {
  auto& c = peer < rank_ ? impl_->up : impl_->down;  // a message from a lower rank travels up
  if (c.comm == nullptr) throw std::logic_error("NcclComm::recv: not a point-to-point group (or a group of one)");
  impl_->before(c);  // the buffer may still be read by queued kernels
  impl_->check(ncclRecv(x, n, ncclFloat, peer, c.comm, c.stream), c, "ncclRecv");
  impl_->after(c);
}

void NcclComm::wait_sends() {
  for (Channel* c : {&impl_->up, &impl_->down})
    if (c->comm != nullptr) check_cuda(cudaStreamWaitEvent(impl_->compute, c->done, 0), "cudaStreamWaitEvent");
}

void NcclComm::barrier() {
  check_cuda(cudaStreamSynchronize(impl_->compute), "cudaStreamSynchronize");
  for (Channel* c : impl_->channels)
    if (c->stream != nullptr) check_cuda(cudaStreamSynchronize(c->stream), "cudaStreamSynchronize");
  check_mpi(MPI_Barrier(group_), "MPI_Barrier");
}

std::unique_ptr<CommBackend> make_nccl_comm(MPI_Comm group, ComputeBackend& backend, bool point_to_point) {
  return std::make_unique<NcclComm>(group, backend, point_to_point);
}

}  // namespace hpsim::exec
