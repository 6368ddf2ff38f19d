// Event queue and engine throughput: events per second (items_per_second).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "sim/engine.hpp"
#include "sim/event_queue.hpp"
#include "sim/task_graph.hpp"

namespace {

using hpsim::core::Time;
namespace sim = hpsim::sim;

/// A small deterministic generator; the bench must not depend on the standard library's distributions.
struct SplitMix {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

// The "hold" model: a queue of steady size where each pop schedules one later event, as in a simulation.
void BM_EventQueue(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  SplitMix rng{42};
  std::vector<std::int64_t> increments(1 << 16);
  for (auto& x : increments) x = static_cast<std::int64_t>(rng.next() % 10'000);
  sim::EventQueue q;
  q.reserve(size + 1);
  for (std::size_t i = 0; i < size; ++i) q.push(Time{increments[i % increments.size()]}, static_cast<std::uint32_t>(i));
  std::size_t k = 0;
  for (auto _ : state) {
    const sim::Event e = q.pop();
    q.push(Time{e.time.ns + increments[k++ & (increments.size() - 1)]}, e.payload);
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));  // one push + one pop per item
}
BENCHMARK(BM_EventQueue)->Arg(1 << 10)->Arg(1 << 16);

/// Chains on three streams per rank with pipeline-like cross-rank dependencies; about `tasks` tasks.
sim::TaskGraph chains(std::int32_t ranks, std::int64_t tasks) {
  enum : std::uint8_t { compute, tp_comm, pp_comm };  // streams and categories alike
  sim::TaskGraph g(sim::Vocabulary{{"compute", "tp_comm", "pp_comm"}, {"compute", "tp_comm", "pp_comm"}});
  const auto lbl = g.label("t");
  const std::int64_t steps = tasks / (ranks * 3);
  std::vector<sim::TaskId> last_send(static_cast<std::size_t>(ranks), 0);
  for (std::int64_t i = 0; i < steps; ++i) {
    for (std::int32_t r = 0; r < ranks; ++r) {
      const auto c = g.add(r, compute, compute, lbl, Time{100 + (i * 7 + r) % 13});
      const auto tp = g.add(r, tp_comm, tp_comm, lbl, Time{20});
      const auto pp = g.add(r, pp_comm, pp_comm, lbl, Time{15});
      g.depend(tp, c);
      g.depend(pp, tp);
      if (r > 0 && i > 0) g.depend(c, last_send[static_cast<std::size_t>(r - 1)]);
      last_send[static_cast<std::size_t>(r)] = pp;
    }
  }
  g.seal();
  return g;
}

void BM_SimulateChains(benchmark::State& state) {
  const auto g = chains(64, state.range(0));
  std::uint64_t events = 0;
  for (auto _ : state) {
    const auto r = sim::simulate(g);
    events += r.events;
    benchmark::DoNotOptimize(r.makespan);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  state.counters["tasks"] = static_cast<double>(g.size());
}
BENCHMARK(BM_SimulateChains)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

}  // namespace
