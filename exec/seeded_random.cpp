#include "exec/seeded_random.hpp"

#include <cmath>

namespace hpsim::exec {

namespace {

double uniform01(std::uint64_t h) { return (static_cast<double>(h >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

}  // namespace

std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

float seeded_normal(std::uint64_t seed, std::int64_t id, std::int64_t index) {  // Box-Muller
  const std::uint64_t base = mix64(seed ^ mix64(static_cast<std::uint64_t>(id) * 0x632be59bd9b4e019ULL));
  const double u1 = uniform01(mix64(base ^ static_cast<std::uint64_t>(2 * index)));
  const double u2 = uniform01(mix64(base ^ static_cast<std::uint64_t>(2 * index + 1)));
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

}  // namespace hpsim::exec
