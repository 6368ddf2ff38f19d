#pragma once
/// Counter-based random numbers: the same value for the same (seed, counters) on every rank, whatever the plan, so
/// that weights, data and calibration inputs need no generator state.
#include <cstdint>

namespace hpsim::exec {

/// splitmix64's finalizer: a well-mixed 64-bit hash of z.
std::uint64_t mix64(std::uint64_t z);

/// Deterministic normal(0, 1) for element `index` of tensor `id` under `seed`.
float seeded_normal(std::uint64_t seed, std::int64_t id, std::int64_t index);

}  // namespace hpsim::exec
