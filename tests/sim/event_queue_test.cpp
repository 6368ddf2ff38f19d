#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <tuple>

#include "sim/event_queue.hpp"

using hpsim::core::Time;
using hpsim::sim::Event;
using hpsim::sim::EventQueue;

TEST_CASE("event queue pops by time, then in push order") {
  EventQueue q;
  q.push(Time{5}, 1);
  q.push(Time{3}, 2);
  q.push(Time{5}, 3);
  q.push(Time{3}, 4);
  q.push(Time{0}, 5);
  CHECK(q.size() == 5);
  const std::uint32_t expected[] = {5, 2, 4, 1, 3};
  for (std::uint32_t p : expected) {
    REQUIRE(!q.empty());
    CHECK(q.pop().payload == p);
  }
  CHECK(q.empty());
}

namespace {

std::uint64_t next_random(std::uint64_t& s) {
  s = s * 6364136223846793005ULL + 1442695040888963407ULL;
  return s >> 33;
}

/// Random interleavings against an ordered set; `monotone` keeps pushes at or after the last pop (as in a
/// simulation), otherwise pushes may go anywhere, negative times included.
void check_against_reference(bool monotone, std::uint64_t seed) {
  EventQueue q;
  std::set<std::tuple<std::int64_t, std::uint64_t, std::uint32_t>> ref;
  std::uint64_t s = seed, sequence = 0;
  std::int64_t now = 0;
  for (int step = 0; step < 200'000; ++step) {
    const bool do_push = ref.empty() || next_random(s) % 100 < 52;
    if (do_push) {
      std::int64_t t = monotone ? now + static_cast<std::int64_t>(next_random(s) % 50)
                                : static_cast<std::int64_t>(next_random(s) % 2000) - 1000;
      if (next_random(s) % 7 == 0) t = monotone ? now : t / 100;  // many ties
      const auto payload = static_cast<std::uint32_t>(step);
      q.push(Time{t}, payload);
      ref.emplace(t, sequence++, payload);
    } else {
      const Event e = q.pop();
      const auto [t, seq, payload] = *ref.begin();
      ref.erase(ref.begin());
      REQUIRE(e.time.ns == t);
      REQUIRE(e.sequence == seq);
      REQUIRE(e.payload == payload);
      now = e.time.ns;
    }
    REQUIRE(q.size() == ref.size());
  }
}

}  // namespace

TEST_CASE("event queue matches a reference ordering (monotone pushes)") {
  check_against_reference(true, 1);
  check_against_reference(true, 2);
}

TEST_CASE("event queue matches a reference ordering (arbitrary pushes)") {
  check_against_reference(false, 3);
  check_against_reference(false, 4);
}

TEST_CASE("event queue handles extreme times") {
  EventQueue q;
  q.push(Time{INT64_MAX}, 1);
  q.push(Time{INT64_MIN}, 2);
  q.push(Time{0}, 3);
  q.push(Time{-1}, 4);
  CHECK(q.pop().payload == 2);
  CHECK(q.pop().payload == 4);
  q.push(Time{-5}, 5);
  CHECK(q.pop().payload == 5);
  CHECK(q.pop().payload == 3);
  CHECK(q.pop().payload == 1);
  CHECK(q.empty());
}
