#include "exec/fault_injection.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "core/error.hpp"

namespace hpsim::exec {

FaultInjection FaultInjection::parse(const std::string& text) {
  FaultInjection f;
  if (text.empty()) return f;
  const auto a = text.find(':'), b = a == std::string::npos ? a : text.find(':', a + 1);
  const std::string kind = text.substr(0, a);
  long long rank = -1, step = -1;
  char tail = 0;
  const bool numbers = b != std::string::npos &&
                       std::sscanf(text.c_str() + a + 1, "%lld:%lld%c", &rank, &step, &tail) == 2;
  if (kind == "exit") f.kind = FaultKind::exit;
  if (kind == "checkpoint") f.kind = FaultKind::checkpoint;
  if (kind == "stall") f.kind = FaultKind::stall;
  if (f.kind == FaultKind::none || !numbers || rank < 0 || step < 1)
    throw core::InputError("environment", "HPSIM_FAULT",
                           "'" + text + "': expected KIND:RANK:STEP with KIND exit, checkpoint or stall, RANK >= 0, "
                           "STEP >= 1 (a test-only fault injection)");
  f.rank = static_cast<int>(rank);
  f.step = step;
  return f;
}

FaultInjection FaultInjection::from_environment() {
  const char* v = std::getenv("HPSIM_FAULT");
  return parse(v == nullptr ? "" : v);
}

void FaultInjection::strike_if(FaultKind at, int rank_now, std::int64_t step_now) const {
  if (kind != at || rank != rank_now || step != step_now) return;
  std::fflush(nullptr);
  if (kind == FaultKind::stall)
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  ::_exit(3);  // no destructor, no MPI_Finalize: as a crash would leave it
}

}  // namespace hpsim::exec
