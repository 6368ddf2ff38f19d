#include "apps/executor/watchdog.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "exec/comm_wait.hpp"

namespace hpsim::apps {

namespace {

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

/// "rank 3" or "ranks 1, 5"
std::string rank_list(const std::vector<int>& ranks) {
  std::string s = ranks.size() == 1 ? "rank " : "ranks ";
  for (std::size_t i = 0; i < ranks.size(); ++i) s += (i == 0 ? "" : ", ") + std::to_string(ranks[i]);
  return s;
}

}  // namespace

Watchdog::Watchdog(double timeout_s, MPI_Comm world) : timeout_(timeout_s) {
  int provided = MPI_THREAD_SINGLE;
  MPI_Query_thread(&provided);
  exchange_ = provided == MPI_THREAD_MULTIPLE;
  MPI_Comm_dup(world, &comm_);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &ranks_);
  thread_ = std::thread([this] { loop(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  MPI_Comm_free(&comm_);
}

void Watchdog::beat(std::int64_t step) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    step_ = step;
    deadline_ = std::chrono::steady_clock::now() + seconds(timeout_);
  }
  cv_.notify_all();
}

void Watchdog::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    if (step_ < 0) {
      cv_.wait(lock);
      continue;
    }
    if (cv_.wait_until(lock, deadline_) == std::cv_status::timeout && !stop_ && step_ >= 0 &&
        std::chrono::steady_clock::now() >= deadline_) {
      const std::int64_t step = step_;
      lock.unlock();
      expire(step);
    }
  }
}

void Watchdog::expire(std::int64_t step) {
  const int waiting = exec::communication_waits() > 0 ? 1 : 0;
  const auto step_number = static_cast<long long>(step + 1);
  if (exchange_ && ranks_ > 1) {
    // Every rank's watchdog expires within about one timeout of the first (they armed the same step, or the late
    // rank the one before): wait that long for all of them.
    const long long mine[2] = {step_number, waiting};
    std::vector<long long> all(2 * static_cast<std::size_t>(ranks_));
    MPI_Request req = MPI_REQUEST_NULL;
    MPI_Iallgather(mine, 2, MPI_LONG_LONG, all.data(), 2, MPI_LONG_LONG, comm_, &req);
    const auto give_up = std::chrono::steady_clock::now() + seconds(std::max(timeout_, 1.0));
    int done = 0;
    while (done == 0 && std::chrono::steady_clock::now() < give_up) {
      MPI_Test(&req, &done, MPI_STATUS_IGNORE);
      if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (done != 0) {
      long long first = all[0];
      for (int r = 0; r < ranks_; ++r) first = std::min(first, all[2 * static_cast<std::size_t>(r)]);
      std::vector<int> behind, late;
      for (int r = 0; r < ranks_; ++r) {
        if (all[2 * static_cast<std::size_t>(r)] != first) continue;
        behind.push_back(r);
        if (all[2 * static_cast<std::size_t>(r) + 1] == 0) late.push_back(r);
      }
      if (late.empty() && static_cast<int>(behind.size()) < ranks_) late = behind;
      if (rank_ == 0) {
        if (late.empty())
          std::fprintf(stderr,
                       "hpsim run: step %lld did not finish within --step-timeout-s %g s: every rank waits in "
                       "communication (a hung collective); aborting every rank\n",
                       first, timeout_);
        else
          std::fprintf(stderr,
                       "hpsim run: step %lld did not finish within --step-timeout-s %g s: %s did not arrive (the "
                       "other ranks wait for it); aborting every rank\n",
                       first, timeout_, rank_list(late).c_str());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
      std::this_thread::sleep_for(seconds(std::max(timeout_, 1.0)));  // rank 0 aborts the job meanwhile
      MPI_Abort(MPI_COMM_WORLD, 1);
      std::_Exit(1);
    }
  }
  std::fprintf(stderr,
               "hpsim run: rank %d: step %lld did not finish within --step-timeout-s %g s (%s); aborting every "
               "rank\n",
               rank_, step_number, timeout_,
               waiting != 0 ? "this rank waits in communication" : "this rank is not waiting for the others");
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

}  // namespace hpsim::apps
