#include "sim/engine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "sim/event_queue.hpp"

namespace hpsim::sim {
namespace {

constexpr TaskId kNoTask = std::numeric_limits<TaskId>::max();
constexpr std::uint32_t kStarted = std::numeric_limits<std::uint32_t>::max();

/// The mutable state of one simulate() call; everything lives here so that simulate is reentrant.
class Run {
 public:
  explicit Run(const TaskGraph& graph)
      : graph_(graph), tasks_(graph.tasks()), sharing_(graph.has_processor_shares()) {}

  SimResult operator()() {
    graph_.seal();
    const std::size_t n = tasks_.size();
    result_.timing.resize(n);
    remaining_.assign(n, 0);
    next_on_stream_.assign(n, kNoTask);

    // Stream order: each task waits for the previous task on its (rank, stream), as one more prerequisite.
    const std::size_t streams = graph_.stream_count();
    std::vector<TaskId> last(static_cast<std::size_t>(graph_.rank_count()) * streams, kNoTask);
    for (TaskId t = 0; t < n; ++t) {
      const Task& task = tasks_[t];
      TaskId& prev = last[static_cast<std::size_t>(task.rank) * streams + task.stream];
      std::uint32_t count = static_cast<std::uint32_t>(graph_.prerequisites(t).size());
      if (prev != kNoTask) {
        next_on_stream_[prev] = t;
        ++count;
      }
      prev = t;
      remaining_[t] = count;
    }
    if (sharing_) {
      foreground_.assign(static_cast<std::size_t>(graph_.rank_count()), Foreground{});
      expected_end_.assign(n, core::Time{-1});
    }
    group_waiting_.resize(graph_.sync_group_count());
    for (std::size_t g = 0; g < group_waiting_.size(); ++g) {
      group_waiting_[g] = static_cast<std::uint32_t>(graph_.sync_members(static_cast<std::int32_t>(g)).size());
    }

    // At most one running task per stream, so the heap stays small; reserve for the common case.
    queue_.reserve(std::min<std::size_t>(n, last.size() + 64));
    for (TaskId t = 0; t < n; ++t) {
      if (remaining_[t] == 0) ready(t, core::Time{0});
    }

    while (!queue_.empty()) {
      const Event e = queue_.pop();
      const TaskId t = e.payload;
      if (sharing_) {
        if (e.time != expected_end_[t]) continue;  // a foreground task rescheduled since this event was pushed
        expected_end_[t] = core::Time{-1};         // ended: an equal-time stale duplicate is skipped too
        if (const Task& task = tasks_[t]; task.stream == 0) {
          foreground_[static_cast<std::size_t>(task.rank)].task = kNoTask;
        } else if (task.processor_share > 0.0F) {
          share_changes(task.rank, e.time, -static_cast<double>(task.processor_share));
        }
      }
      result_.timing[t].end = e.time;
      result_.makespan = std::max(result_.makespan, e.time);
      ++result_.events;
      for (TaskId d : graph_.dependents(t)) {
        if (--remaining_[d] == 0) ready(d, e.time);
      }
      if (const TaskId next = next_on_stream_[t]; next != kNoTask && --remaining_[next] == 0) ready(next, e.time);
    }

    if (started_ != n) throw_stuck();
    return std::move(result_);
  }

 private:
  /// All of `t`'s conditions hold at `now`: start it, or count it towards its sync group.
  void ready(TaskId t, core::Time now) {
    const std::int32_t group = graph_.sync_group(t);
    if (group < 0) {
      start(t, now);
      return;
    }
    if (--group_waiting_[static_cast<std::size_t>(group)] == 0) {
      // The last member became ready now, so now is the latest ready time of the group.
      for (TaskId m : graph_.sync_members(group)) start(m, now);
    }
  }

  void start(TaskId t, core::Time now) {
    result_.timing[t].start = now;
    remaining_[t] = kStarted;
    ++started_;
    const Task& task = tasks_[t];
    if (!sharing_) {
      queue_.push(now + task.duration, t);
      return;
    }
    Foreground& fg = foreground_[static_cast<std::size_t>(task.rank)];
    if (task.stream == 0) {
      fg.task = t;
      fg.since = now;
      fg.work_ns = static_cast<double>(task.duration.ns);
      schedule_end(t, now + (fg.share > 0.0 ? stretched(fg.work_ns, fg.share) : task.duration));
      return;
    }
    schedule_end(t, now + task.duration);
    if (task.processor_share > 0.0F) share_changes(task.rank, now, static_cast<double>(task.processor_share));
  }

  void schedule_end(TaskId t, core::Time end) {
    expected_end_[t] = end;
    queue_.push(end, t);
  }

  /// `work_ns` of full-rate work at the rate left by background tasks taking `share` together.
  static core::Time stretched(double work_ns, double share) {
    return core::Time{static_cast<std::int64_t>(std::llround(work_ns / rate(share)))};
  }
  static double rate(double share) { return 1.0 - std::min(share, kMaxProcessorShare); }

  /// A background task that takes processor share started or ended on `rank`: the running foreground task keeps the
  /// work done so far and finishes the rest at the new rate (processor sharing).
  void share_changes(std::int32_t rank, core::Time now, double delta) {
    Foreground& fg = foreground_[static_cast<std::size_t>(rank)];
    const double before = fg.share;
    fg.share = before + delta;
    if (fg.share < 1e-9) fg.share = 0.0;  // sums of floats: no residue once every sharer has ended
    if (fg.task == kNoTask) return;
    fg.work_ns = std::max(0.0, fg.work_ns - static_cast<double>((now - fg.since).ns) * rate(before));
    fg.since = now;
    const core::Time end = now + stretched(fg.work_ns, fg.share);
    if (end != expected_end_[fg.task]) schedule_end(fg.task, end);
  }

  [[noreturn]] void throw_stuck() const {
    // Prefer a task that is ready but waits for a sync group: it names the collective that deadlocks.
    TaskId stuck = kNoTask;
    for (TaskId t = 0; t < tasks_.size(); ++t) {
      if (remaining_[t] == 0) {
        stuck = t;
        break;
      }
      if (stuck == kNoTask && remaining_[t] != kStarted) stuck = t;
    }
    const Task& task = tasks_[stuck];
    std::string why = remaining_[stuck] == 0 ? "waits for a sync group that can never complete"
                                             : "can never start (dependency cycle or sync-group deadlock)";
    throw std::logic_error("simulate: task '" + graph_.labels()[task.label] + "' (id " + std::to_string(stuck) +
                           ") on rank " + std::to_string(task.rank) + ", stream " +
                           graph_.vocabulary().streams[task.stream] + " " + why + "; " +
                           std::to_string(tasks_.size() - started_) + " task(s) never started");
  }

  const TaskGraph& graph_;
  const std::vector<Task>& tasks_;
  const bool sharing_;  // some task takes a processor share: track each rank's foreground task
  SimResult result_;
  EventQueue queue_;
  std::vector<std::uint32_t> remaining_;  // unmet conditions per task; kStarted once started
  std::vector<TaskId> next_on_stream_;
  std::vector<std::uint32_t> group_waiting_;  // members of each sync group not yet ready
  /// Per rank: the running foreground task, its full-rate work left at `since`, and the share background tasks take.
  struct Foreground {
    TaskId task = kNoTask;
    core::Time since;
    double work_ns = 0.0;
    double share = 0.0;  // the sum of the running background shares (the rate clamps it)
  };
  std::vector<Foreground> foreground_;
  std::vector<core::Time> expected_end_;  // the live end event of each started task
  std::size_t started_ = 0;
};

}  // namespace

SimResult simulate(const TaskGraph& graph) { return Run(graph)(); }

std::vector<core::Time> attribute_time(const TaskGraph& graph, const SimResult& result, std::int32_t rank,
                                       core::Time end) {
  if (result.timing.size() != graph.size()) throw std::invalid_argument("attribute_time: result is for another graph");
  const std::size_t categories = graph.category_count();
  std::vector<core::Time> parts(categories + 1);
  if (end.ns <= 0) return parts;

  // Boundary points of the rank's intervals, clipped to [0, end]; a sweep keeps how many tasks of each
  // category run on the foreground stream (0) and on the other streams.
  struct Point {
    std::int64_t time;
    std::int32_t delta;  // +1 start, -1 end
    std::uint16_t slot;  // category, + categories for the other streams
  };
  std::vector<Point> points;
  const auto ids = graph.tasks_of_rank(rank);
  points.reserve(ids.size() * 2);
  for (TaskId t : ids) {
    const Task& task = graph.task(t);
    const std::int64_t s = std::max<std::int64_t>(result.timing[t].start.ns, 0);
    const std::int64_t e = std::min(result.timing[t].end.ns, end.ns);
    if (e <= s) continue;  // zero-length or outside the window: takes no time
    const auto slot = static_cast<std::uint16_t>(task.category + (task.stream == 0 ? 0 : categories));
    points.push_back({s, +1, slot});
    points.push_back({e, -1, slot});
  }
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.time < b.time; });

  std::vector<std::int32_t> running(2 * categories, 0);
  auto bucket = [&]() -> std::size_t {
    // The foreground stream first; then the other streams, by category order (the priority order).
    for (std::size_t c = 0; c < 2 * categories; ++c)
      if (running[c] > 0) return c % categories;
    return categories;
  };
  std::int64_t now = 0;
  std::size_t i = 0;
  while (i < points.size()) {
    const std::int64_t t = points[i].time;
    parts[bucket()].ns += t - now;
    now = t;
    for (; i < points.size() && points[i].time == t; ++i) running[points[i].slot] += points[i].delta;
  }
  parts[bucket()].ns += end.ns - now;  // after the last interval: idle
  return parts;
}

}  // namespace hpsim::sim
