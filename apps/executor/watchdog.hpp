#pragma once
/// The step watchdog of `hpsim run --step-timeout-s`: aborts the MPI job when a step outlives its deadline (a hung
/// collective would otherwise hang the job silently), naming the rank the others wait for.
#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace hpsim::apps {

/// A thread per rank. On a timeout the ranks' watchdogs exchange (on their own communicator: MPI_THREAD_MULTIPLE)
/// the step each is in and whether its main thread waits in communication (exec/comm_wait.hpp); the rank(s) in the
/// earliest step that are not waiting are the late ones, and rank 0 names them. Without MPI_THREAD_MULTIPLE, or when
/// some watchdog does not answer within the timeout, each rank names itself only.
class Watchdog {
 public:
  /// Collective over `world` (duplicates it).
  Watchdog(double timeout_s, MPI_Comm world);
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog();
  /// Arms the deadline for step `step` (0-based); disarms with `step` < 0.
  void beat(std::int64_t step);

 private:
  void loop();
  /// Names the late rank(s) and aborts every rank; does not return.
  [[noreturn]] void expire(std::int64_t step);

  double timeout_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, ranks_ = 1;
  bool exchange_ = false;  ///< MPI_THREAD_MULTIPLE: the watchdogs may talk
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::int64_t step_ = -1;
  std::chrono::steady_clock::time_point deadline_;
  std::thread thread_;
};

}  // namespace hpsim::apps
