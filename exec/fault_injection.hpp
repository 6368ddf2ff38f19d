#pragma once
/// Test-only fault injection for the executor, read from the environment variable HPSIM_FAULT
/// ("KIND:RANK:STEP", e.g. "exit:1:3"): rank RANK fails at (1-based, counted from the run's start) step STEP.
///   exit        _exit(3) at the start of the step, after the other ranks have entered it
///   checkpoint  _exit(3) halfway through writing its checkpoint shard of that step (a torn checkpoint)
///   stall       sleeps for good at the start of the step (the others wait for it: the step watchdog's case)
/// Unset or empty: no fault. Anything else is a usage error (core::InputError) on every rank.
#include <cstdint>
#include <string>

namespace hpsim::exec {

/// Where a fault can strike.
enum class FaultKind { none, exit, checkpoint, stall };

/// The fault this process was told to inject, if any.
struct FaultInjection {
  FaultKind kind = FaultKind::none;
  int rank = -1;
  std::int64_t step = -1;

  /// Parses HPSIM_FAULT's value (empty: none). Throws core::InputError naming HPSIM_FAULT.
  static FaultInjection parse(const std::string& text);
  /// HPSIM_FAULT from the environment.
  static FaultInjection from_environment();
  /// Strikes (does not return) when `kind` at `step` on `rank` is this fault.
  void strike_if(FaultKind at, int rank_now, std::int64_t step_now) const;
};

}  // namespace hpsim::exec
