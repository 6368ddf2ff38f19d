#include <doctest/doctest.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/engine.hpp"
#include "sim/task_graph.hpp"
#include "test_vocabulary.hpp"

using hpsim::core::Time;
using namespace hpsim::sim;
using namespace hpsim_test;

namespace {

Time ns(std::int64_t v) { return Time{v}; }

TaskId add(TaskGraph& g, std::int32_t rank, Stream s, std::int64_t dur, const char* name = "t",
           Category c = Category::compute) {
  return g.add(rank, s, c, g.label(name), ns(dur));
}

/// 1F1B (or GPipe when warmup = m) across p stages: per stage, `warmup` forwards, then alternate bwd/fwd, then
/// the remaining backwards. Sends are zero-duration tasks on the pp stream.
TaskGraph pipeline(int p, int m, std::int64_t f, bool one_f_one_b) {
  TaskGraph g(test_vocabulary());
  std::vector<std::vector<TaskId>> fwd(p, std::vector<TaskId>(m)), bwd(p, std::vector<TaskId>(m));
  std::vector<std::vector<TaskId>> fsend(p, std::vector<TaskId>(m)), bsend(p, std::vector<TaskId>(m));
  // Order of compute tasks per stage: list of (is_bwd, microbatch).
  for (int s = 0; s < p; ++s) {
    std::vector<std::pair<bool, int>> order;
    const int warmup = one_f_one_b ? std::min(p - s, m) : m;
    int nf = 0, nb = 0;
    for (; nf < warmup; ++nf) order.emplace_back(false, nf);
    while (nb < m) {
      order.emplace_back(true, nb++);
      if (nf < m) order.emplace_back(false, nf++);
    }
    // Each compute task is followed by its zero-cost send on the pp stream, so sends keep compute order.
    for (auto [is_bwd, mb] : order) {
      if (!is_bwd) {
        fwd[s][mb] = add(g, s, Stream::compute_stream, f, "fwd");
        if (s + 1 < p) {
          fsend[s][mb] = add(g, s, Stream::pp_stream, 0, "send_fwd", Category::pp_comm);
          g.depend(fsend[s][mb], fwd[s][mb]);
        }
      } else {
        bwd[s][mb] = add(g, s, Stream::compute_stream, 2 * f, "bwd");
        if (s > 0) {
          bsend[s][mb] = add(g, s, Stream::pp_stream, 0, "send_bwd", Category::pp_comm);
          g.depend(bsend[s][mb], bwd[s][mb]);
        }
      }
    }
  }
  for (int s = 0; s < p; ++s) {
    for (int mb = 0; mb < m; ++mb) {
      if (s > 0) g.depend(fwd[s][mb], fsend[s - 1][mb]);
      if (s + 1 < p) g.depend(bwd[s][mb], bsend[s + 1][mb]);
      else g.depend(bwd[s][mb], fwd[s][mb]);
    }
  }
  return g;
}

}  // namespace

TEST_CASE("a chain on one stream sums durations") {
  TaskGraph g(test_vocabulary());
  const auto a = add(g, 0, Stream::compute_stream, 10);
  const auto b = add(g, 0, Stream::compute_stream, 20);
  const auto c = add(g, 0, Stream::compute_stream, 0);
  const auto d = add(g, 0, Stream::compute_stream, 5);
  const auto r = simulate(g);
  CHECK(r.makespan == ns(35));
  CHECK(r.timing[a].start == ns(0));
  CHECK(r.timing[b].start == ns(10));
  CHECK(r.timing[c].start == ns(30));
  CHECK(r.timing[c].end == ns(30));
  CHECK(r.timing[d].end == ns(35));
  CHECK(r.events == 4);
}

TEST_CASE("two streams overlap") {
  TaskGraph g(test_vocabulary());
  add(g, 0, Stream::compute_stream, 100);
  add(g, 0, Stream::dp_stream, 70);
  add(g, 0, Stream::dp_stream, 50);
  CHECK(simulate(g).makespan == ns(120));
}

TEST_CASE("empty graph") {
  TaskGraph g(test_vocabulary());
  const auto r = simulate(g);
  CHECK(r.makespan == ns(0));
  CHECK(r.timing.empty());
}

TEST_CASE("dependency across ranks") {
  TaskGraph g(test_vocabulary());
  const auto a = add(g, 0, Stream::compute_stream, 10);
  const auto send = add(g, 0, Stream::pp_stream, 5, "send", Category::pp_comm);
  const auto b = add(g, 1, Stream::compute_stream, 7);
  g.depend(send, a);
  g.depend(b, send);
  const auto r = simulate(g);
  CHECK(r.timing[send].start == ns(10));
  CHECK(r.timing[b].start == ns(15));
  CHECK(r.makespan == ns(22));
  CHECK(g.rank_count() == 2);
}

TEST_CASE("stream FIFO order holds even when a later task is ready first") {
  TaskGraph g(test_vocabulary());
  const auto slow = add(g, 1, Stream::compute_stream, 50);
  const auto first = add(g, 0, Stream::compute_stream, 10);  // waits on slow
  const auto second = add(g, 0, Stream::compute_stream, 10);  // ready at 0, but queued behind `first`
  g.depend(first, slow);
  const auto r = simulate(g);
  CHECK(r.timing[first].start == ns(50));
  CHECK(r.timing[second].start == ns(60));
  CHECK(r.makespan == ns(70));
}

TEST_CASE("sync group starts together at the latest ready time") {
  TaskGraph g(test_vocabulary());
  add(g, 0, Stream::compute_stream, 10);
  add(g, 1, Stream::compute_stream, 30);
  const auto x = add(g, 0, Stream::tp_stream, 5, "ar", Category::tp_comm);
  const auto y = add(g, 1, Stream::tp_stream, 5, "ar", Category::tp_comm);
  const auto after_x = add(g, 0, Stream::tp_stream, 1, "next", Category::tp_comm);  // blocked behind x
  g.depend(x, 0);
  g.depend(y, 1);
  const TaskId members[] = {x, y};
  g.synchronize(members);
  const auto r = simulate(g);
  CHECK(r.timing[x].start == ns(30));
  CHECK(r.timing[y].start == ns(30));
  CHECK(r.timing[after_x].start == ns(35));
  CHECK(r.makespan == ns(36));
}

TEST_CASE("sync group members waiting on their streams") {
  TaskGraph g(test_vocabulary());
  add(g, 0, Stream::dp_stream, 40);  // rank 0's dp stream busy until 40
  const auto x = add(g, 0, Stream::dp_stream, 5, "ar", Category::dp_comm);
  const auto y = add(g, 1, Stream::dp_stream, 5, "ar", Category::dp_comm);
  const TaskId members[] = {x, y};
  g.synchronize(members);
  const auto r = simulate(g);
  CHECK(r.timing[y].start == ns(40));
  CHECK(r.timing[y].end == ns(45));
}

TEST_CASE("1F1B pipeline makespan is (m + p - 1) * 3f") {
  const std::int64_t f = 1000;
  for (int p : {1, 2, 4, 8}) {
    for (int m : {1, 4, 8, 16}) {
      CAPTURE(p);
      CAPTURE(m);
      const auto r = simulate(pipeline(p, m, f, true));
      CHECK(r.makespan == ns((m + p - 1) * 3 * f));
      // bubble fraction (p - 1) / (m + p - 1): busy time per stage is 3 f m
      const double bubble = 1.0 - static_cast<double>(3 * f * m) / static_cast<double>(r.makespan.ns);
      CHECK(bubble == doctest::Approx(static_cast<double>(p - 1) / (m + p - 1)));
    }
  }
}

TEST_CASE("GPipe pipeline makespan is (m + p - 1) * 3f") {
  const std::int64_t f = 700;
  for (int p : {1, 3, 4}) {
    for (int m : {1, 5, 8}) {
      CAPTURE(p);
      CAPTURE(m);
      CHECK(simulate(pipeline(p, m, f, false)).makespan == ns((m + p - 1) * 3 * f));
    }
  }
}

TEST_CASE("simulation is deterministic") {
  const auto g = pipeline(4, 8, 123, true);
  const auto a = simulate(g);
  const auto b = simulate(g);
  REQUIRE(a.timing.size() == b.timing.size());
  for (std::size_t i = 0; i < a.timing.size(); ++i) {
    CHECK(a.timing[i].start == b.timing[i].start);
    CHECK(a.timing[i].end == b.timing[i].end);
  }
  CHECK(a.events == b.events);
}

TEST_CASE("a dependency cycle is a logic_error naming the task") {
  TaskGraph g(test_vocabulary());
  const auto a = add(g, 0, Stream::compute_stream, 1, "alpha");
  const auto b = add(g, 3, Stream::compute_stream, 1, "beta");
  g.depend(a, b);
  g.depend(b, a);
  try {
    simulate(g);
    FAIL("expected logic_error");
  } catch (const std::logic_error& e) {
    const std::string what = e.what();
    CHECK(what.find("alpha") != std::string::npos);
    CHECK(what.find("rank 0") != std::string::npos);
  }
}

TEST_CASE("a sync group deadlocked through stream order is a logic_error") {
  TaskGraph g(test_vocabulary());
  // y precedes z on rank 1's stream; x waits on z; x and y must start together: never.
  const auto y = add(g, 1, Stream::compute_stream, 1, "y");
  const auto z = add(g, 1, Stream::compute_stream, 1, "z");
  const auto x = add(g, 0, Stream::compute_stream, 1, "x");
  g.depend(x, z);
  const TaskId members[] = {x, y};
  g.synchronize(members);
  CHECK_THROWS_AS(simulate(g), std::logic_error);
  try {
    simulate(g);
  } catch (const std::logic_error& e) {
    CHECK(std::string(e.what()).find("'y'") != std::string::npos);
    CHECK(std::string(e.what()).find("rank 1") != std::string::npos);
  }
}

TEST_CASE("a self dependency is a logic_error") {
  TaskGraph g(test_vocabulary());
  const auto a = add(g, 0, Stream::compute_stream, 1);
  g.depend(a, a);
  CHECK_THROWS_AS(simulate(g), std::logic_error);
}

TEST_CASE("graph API") {
  TaskGraph g(test_vocabulary());
  CHECK(g.label("x") == g.label("x"));
  CHECK(g.label("x") != g.label("y"));
  CHECK(g.labels().size() == 2);
  CHECK_THROWS_AS(g.add(-1, Stream::compute_stream, Category::compute, 0, ns(1)), std::invalid_argument);
  CHECK_THROWS_AS(g.add(0, Stream::compute_stream, Category::compute, 0, ns(-1)), std::invalid_argument);
  const auto a = add(g, 2, Stream::compute_stream, 1);
  const auto b = add(g, 0, Stream::compute_stream, 1);
  const auto c = add(g, 2, Stream::tp_stream, 1);
  g.depend(c, a);
  g.depend(c, b);
  CHECK(g.prerequisites(c).size() == 2);
  CHECK(g.dependents(a).size() == 1);
  CHECK(g.tasks_of_rank(2).size() == 2);
  CHECK(g.tasks_of_rank(1).empty());
  CHECK(g.rank_name(1) == "rank 1");
  g.set_rank_name(1, "node0/gpu1");
  CHECK(g.rank_name(1) == "node0/gpu1");
  CHECK(g.vocabulary().streams[Stream::pp_stream] == "pp_comm");
  CHECK(g.vocabulary().categories[Category::optimizer] == "optimizer");
  // Ids the vocabulary does not name are refused.
  CHECK_THROWS_AS(g.add(0, 4, Category::compute, 0, ns(1)), std::invalid_argument);
  CHECK_THROWS_AS(g.add(0, Stream::compute_stream, 9, 0, ns(1)), std::invalid_argument);
  CHECK_THROWS_AS(TaskGraph(Vocabulary{}), std::invalid_argument);
}

TEST_CASE("attribute_time sums to end and counts exposed communication only") {
  TaskGraph g(test_vocabulary());
  // compute 0-100, tp 50-150 (exposed 100-150), dp 120-200 (hidden by tp until 150, exposed 150-200), idle after.
  add(g, 0, Stream::compute_stream, 100, "fwd", Category::compute);
  const auto tp_wait = add(g, 0, Stream::tp_stream, 50, "wait", Category::other);
  const auto tp = add(g, 0, Stream::tp_stream, 100, "ar", Category::tp_comm);
  const auto dp_wait = add(g, 0, Stream::dp_stream, 120, "wait2", Category::other);
  const auto dp = add(g, 0, Stream::dp_stream, 80, "rs", Category::dp_comm);
  (void)tp_wait;
  (void)dp_wait;
  (void)tp;
  (void)dp;
  add(g, 1, Stream::compute_stream, 1000);  // another rank does not count
  const auto r = simulate(g);
  const auto parts = attribute_time(g, r, 0, ns(250));
  std::int64_t sum = 0;
  for (auto p : parts) sum += p.ns;
  CHECK(sum == 250);
  CHECK(parts[static_cast<std::size_t>(Category::compute)] == ns(100));
  CHECK(parts[static_cast<std::size_t>(Category::tp_comm)] == ns(50));
  CHECK(parts[static_cast<std::size_t>(Category::dp_comm)] == ns(50));
  CHECK(parts[static_cast<std::size_t>(Category::other)] == ns(0));  // hidden behind compute
  CHECK(parts[kCategoryCount] == ns(50));

  // A window shorter than the work clips it.
  const auto clipped = attribute_time(g, r, 0, ns(120));
  CHECK(clipped[static_cast<std::size_t>(Category::compute)] == ns(100));
  CHECK(clipped[static_cast<std::size_t>(Category::tp_comm)] == ns(20));
  CHECK(clipped[kCategoryCount] == ns(0));
}

TEST_CASE("attribute_time: recompute on compute stream, compute category on a comm stream") {
  TaskGraph g(test_vocabulary());
  add(g, 0, Stream::compute_stream, 30, "recomp", Category::recompute);
  add(g, 0, Stream::dp_stream, 10, "x", Category::dp_comm);
  add(g, 0, Stream::dp_stream, 40, "opt", Category::compute);  // 10-50, exposed 30-50 as compute
  add(g, 0, Stream::pp_stream, 45, "send", Category::pp_comm);  // hidden by the compute-category task
  const auto r = simulate(g);
  const auto parts = attribute_time(g, r, 0, r.makespan);
  CHECK(parts[static_cast<std::size_t>(Category::recompute)] == ns(30));
  CHECK(parts[static_cast<std::size_t>(Category::compute)] == ns(20));
  CHECK(parts[static_cast<std::size_t>(Category::pp_comm)] == ns(0));
  CHECK(parts[kCategoryCount] == ns(0));
}

TEST_CASE("large graph: chains with cross-rank dependencies") {
  TaskGraph g(test_vocabulary());
  const std::uint32_t lbl = g.label("t");
  const int ranks = 64, per_stream = 200;
  std::vector<TaskId> prev_compute(ranks, 0);
  for (int i = 0; i < per_stream; ++i) {
    for (int r = 0; r < ranks; ++r) {
      const auto c = g.add(r, Stream::compute_stream, Category::compute, lbl, ns(10));
      const auto s = g.add(r, Stream::pp_stream, Category::pp_comm, lbl, ns(3));
      g.depend(s, c);
      if (r > 0 && i > 0) g.depend(c, prev_compute[r - 1]);
      prev_compute[r] = s;
    }
  }
  const auto r = simulate(g);
  CHECK(r.events == g.size());
  CHECK(r.makespan.ns > 0);
}

TEST_CASE("sync groups sharing a task merge") {
  TaskGraph g(test_vocabulary());
  add(g, 2, Stream::compute_stream, 25);
  const auto a = add(g, 0, Stream::dp_stream, 5, "a", Category::dp_comm);
  const auto b = add(g, 1, Stream::dp_stream, 5, "b", Category::dp_comm);
  const auto c = add(g, 2, Stream::compute_stream, 5, "c", Category::dp_comm);  // behind the 25 ns task
  const TaskId ab[] = {a, b};
  const TaskId bc[] = {b, c};
  g.synchronize(ab);
  g.synchronize(bc);
  CHECK(g.sync_group(a) == g.sync_group(c));
  CHECK(g.sync_members(g.sync_group(a)).size() == 3);
  const auto r = simulate(g);
  CHECK(r.timing[a].start == ns(25));
  CHECK(r.timing[b].start == ns(25));
  CHECK(r.timing[c].start == ns(25));
}

TEST_CASE("a background task's processor share slows the foreground task it overlaps (processor sharing)") {
  // Compute of 1000 ns starts at 0; a collective taking 25 % of the SMs runs from 200 to 600 ns on the dp stream.
  // Work done: 200 at full rate, 400 * 0.75 = 300 while shared, 500 left at full rate from 600: ends at 1100.
  TaskGraph g(test_vocabulary());
  const TaskId compute_task = add(g, 0, Stream::compute_stream, 1000, "compute");
  const TaskId delay = add(g, 0, Stream::tp_stream, 200, "delay", Category::other);
  const TaskId collective = add(g, 0, Stream::dp_stream, 400, "reduce", Category::dp_comm);
  g.depend(collective, delay);
  g.set_processor_share(collective, 0.25);
  const SimResult r = simulate(g);
  CHECK(r.timing[compute_task].end == ns(1100));
  CHECK(r.timing[collective].start == ns(200));
  CHECK(r.timing[collective].end == ns(600));

  SUBCASE("the collective outlasts the compute: the rest of the work runs at 75 %") {
    TaskGraph h(test_vocabulary());
    const TaskId c = add(h, 0, Stream::compute_stream, 300, "compute");
    const TaskId long_collective = add(h, 0, Stream::dp_stream, 1000, "reduce", Category::dp_comm);
    h.set_processor_share(long_collective, 0.25);
    const SimResult rh = simulate(h);
    CHECK(rh.timing[c].end == ns(400));  // 300 / 0.75
    CHECK(rh.timing[long_collective].end == ns(1000));
  }
  SUBCASE("another rank's collective does not slow this rank") {
    TaskGraph h(test_vocabulary());
    const TaskId c = add(h, 0, Stream::compute_stream, 300, "compute");
    const TaskId other_rank = add(h, 1, Stream::dp_stream, 1000, "reduce", Category::dp_comm);
    h.set_processor_share(other_rank, 0.25);
    CHECK(simulate(h).timing[c].end == ns(300));
  }
  SUBCASE("a foreground task cannot share, and shares stay in [0, 0.9]") {
    TaskGraph h(test_vocabulary());
    const TaskId c = add(h, 0, Stream::compute_stream, 300, "compute");
    const TaskId d = add(h, 0, Stream::dp_stream, 300, "reduce", Category::dp_comm);
    CHECK_THROWS_AS(h.set_processor_share(c, 0.1), std::invalid_argument);
    CHECK_THROWS_AS(h.set_processor_share(d, 0.95), std::invalid_argument);
    CHECK_THROWS_AS(h.set_processor_share(d, -0.1), std::invalid_argument);
  }
}

TEST_CASE("processor sharing: back-to-back collectives and a compute chain end where the hand computation says") {
  // Two collectives of 100 ns each at 50 % share, from 0; compute tasks of 100 then 100 ns.
  // 0-100: first compute at 50 % (50 done); 100-200: 50 % again (done at 200); second compute from 200 at full rate.
  TaskGraph g(test_vocabulary());
  const TaskId c1 = add(g, 0, Stream::compute_stream, 100, "c1");
  const TaskId c2 = add(g, 0, Stream::compute_stream, 100, "c2");
  const TaskId d1 = add(g, 0, Stream::dp_stream, 100, "d1", Category::dp_comm);
  const TaskId d2 = add(g, 0, Stream::dp_stream, 100, "d2", Category::dp_comm);
  g.set_processor_share(d1, 0.5);
  g.set_processor_share(d2, 0.5);
  const SimResult r = simulate(g);
  CHECK(r.timing[c1].end == ns(200));
  CHECK(r.timing[c2].start == ns(200));
  CHECK(r.timing[c2].end == ns(300));
  CHECK(r.timing[d2].end == ns(200));
}
