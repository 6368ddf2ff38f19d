#pragma once
/// What the simulator runs: tasks on per-rank streams with dependencies. sim knows nothing of plans or models.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/units.hpp"

namespace hpsim::sim {

/// A stream of a rank, numbered by the caller; tasks of one stream run one at a time, in the order they were added
/// (CUDA semantics).
using StreamId = std::uint8_t;
/// What a task's time counts as, numbered by the caller.
using CategoryId = std::uint8_t;

/// The caller's names of its streams and categories, which a graph's ids index (traces, attribution). Stream 0 is
/// the foreground stream (attribute_time gives its busy time first); categories are listed in priority order.
struct Vocabulary {
  std::vector<std::string> streams;
  std::vector<std::string> categories;
};

using TaskId = std::uint32_t;

/// The largest share of a rank's processor that background tasks may take together: the foreground always keeps
/// some progress, so a slowed task still ends.
inline constexpr double kMaxProcessorShare = 0.9;

/// One unit of work on one stream of one rank.
struct Task {
  std::int32_t rank = 0;
  StreamId stream = 0;
  CategoryId category = 0;
  std::uint32_t label = 0;  ///< index into TaskGraph::labels()
  /// The share of the rank's processor this task takes while it runs (a communication kernel's SMs): the rank's
  /// foreground task (stream 0) meanwhile progresses at 1 - the sum of the running shares. 0 for most tasks.
  float processor_share = 0.0F;
  core::Time duration;
};

/// Tasks, their dependencies (CSR after seal()) and synchronization groups (collectives spanning simulated ranks).
class TaskGraph {
 public:
  /// A graph whose tasks use the streams and categories `vocabulary` names (at least one of each).
  explicit TaskGraph(Vocabulary vocabulary);
  /// Interns a label; the same text returns the same id.
  std::uint32_t label(std::string_view text);
  TaskId add(std::int32_t rank, StreamId stream, CategoryId category, std::uint32_t label, core::Time duration);
  /// While `task` runs it takes `share` (in [0, kMaxProcessorShare]) of its rank's processor from the foreground
  /// stream; the task must not be on the foreground stream.
  void set_processor_share(TaskId task, double share);
  /// `task` may start only after `prerequisite` ends (either may have been added first; simulate() reports cycles).
  void depend(TaskId task, TaskId prerequisite);
  /// These tasks start together, when all of them are ready (a collective across simulated ranks). Groups that
  /// share a task merge.
  void synchronize(std::span<const TaskId> tasks);
  void set_rank_name(std::int32_t rank, std::string name);

  [[nodiscard]] std::size_t size() const { return tasks_.size(); }
  /// Whether any task takes a processor share (the engine skips processor sharing otherwise).
  [[nodiscard]] bool has_processor_shares() const { return has_processor_shares_; }
  [[nodiscard]] const Task& task(TaskId id) const { return tasks_[id]; }
  [[nodiscard]] const std::vector<Task>& tasks() const { return tasks_; }
  [[nodiscard]] const std::vector<std::string>& labels() const { return labels_; }
  [[nodiscard]] std::int32_t rank_count() const { return rank_count_; }
  [[nodiscard]] const Vocabulary& vocabulary() const { return vocabulary_; }
  [[nodiscard]] std::size_t stream_count() const { return vocabulary_.streams.size(); }
  [[nodiscard]] std::size_t category_count() const { return vocabulary_.categories.size(); }
  [[nodiscard]] std::string rank_name(std::int32_t rank) const;

  // Read by the engine.
  [[nodiscard]] std::span<const TaskId> prerequisites(TaskId id) const;
  [[nodiscard]] std::span<const TaskId> dependents(TaskId id) const;
  [[nodiscard]] std::int32_t sync_group(TaskId id) const { return sync_group_of_[id]; }  ///< -1: none
  [[nodiscard]] std::span<const TaskId> sync_members(std::int32_t group) const;
  [[nodiscard]] std::size_t sync_group_count() const { return sync_groups_.size(); }
  /// The tasks of one rank in id order (hence in stream order per stream); empty for an unknown rank.
  [[nodiscard]] std::span<const TaskId> tasks_of_rank(std::int32_t rank) const;
  /// Builds the compressed adjacency; called by simulate(), idempotent. Not thread-safe: seal a graph before
  /// simulating it from several threads at once.
  void seal() const;

 private:
  Vocabulary vocabulary_;
  std::vector<Task> tasks_;
  std::vector<std::string> labels_;
  std::vector<std::pair<TaskId, TaskId>> edges_;  // (prerequisite, task)
  std::vector<std::int32_t> sync_group_of_;
  std::vector<std::vector<TaskId>> sync_groups_;
  std::vector<std::pair<std::int32_t, std::string>> rank_names_;
  std::int32_t rank_count_ = 0;
  bool has_processor_shares_ = false;
  std::unordered_map<std::string, std::uint32_t> label_ids_;
  // CSR, built lazily by seal()
  mutable bool sealed_ = false;
  mutable std::vector<std::uint32_t> pre_offsets_, post_offsets_;
  mutable std::vector<TaskId> pre_, post_;
  mutable std::vector<std::uint32_t> rank_offsets_;
  mutable std::vector<TaskId> rank_tasks_;
};

}  // namespace hpsim::sim
