#include "sim/task_graph.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace hpsim::sim {

TaskGraph::TaskGraph(Vocabulary vocabulary) : vocabulary_(std::move(vocabulary)) {
  if (vocabulary_.streams.empty() || vocabulary_.categories.empty() || vocabulary_.streams.size() > 256 ||
      vocabulary_.categories.size() > 256)
    throw std::invalid_argument("TaskGraph: a vocabulary of 1 to 256 streams and categories");
}

std::uint32_t TaskGraph::label(std::string_view text) {
  std::string key(text);
  if (auto it = label_ids_.find(key); it != label_ids_.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(labels_.size());
  labels_.push_back(key);
  label_ids_.emplace(std::move(key), id);
  return id;
}

TaskId TaskGraph::add(std::int32_t rank, StreamId stream, CategoryId category, std::uint32_t label,
                      core::Time duration) {
  if (rank < 0) throw std::invalid_argument("TaskGraph::add: negative rank " + std::to_string(rank));
  if (duration.ns < 0) throw std::invalid_argument("TaskGraph::add: negative duration");
  if (stream >= stream_count()) throw std::invalid_argument("TaskGraph::add: a stream the vocabulary does not name");
  if (category >= category_count())
    throw std::invalid_argument("TaskGraph::add: a category the vocabulary does not name");
  if (label >= labels_.size()) throw std::invalid_argument("TaskGraph::add: unknown label id");
  if (tasks_.size() >= static_cast<std::size_t>(UINT32_MAX)) throw std::length_error("TaskGraph::add: too many tasks");
  const auto id = static_cast<TaskId>(tasks_.size());
  tasks_.push_back(Task{rank, stream, category, label, 0.0F, duration});
  sync_group_of_.push_back(-1);
  rank_count_ = std::max(rank_count_, rank + 1);
  sealed_ = false;
  return id;
}

void TaskGraph::set_processor_share(TaskId task, double share) {
  if (task >= tasks_.size()) throw std::invalid_argument("TaskGraph::set_processor_share: unknown task");
  if (!(share >= 0.0 && share <= kMaxProcessorShare))
    throw std::invalid_argument("TaskGraph::set_processor_share: share outside [0, 0.9]");
  if (tasks_[task].stream == 0)
    throw std::invalid_argument("TaskGraph::set_processor_share: a foreground task cannot take from itself");
  tasks_[task].processor_share = static_cast<float>(share);
  if (share > 0) has_processor_shares_ = true;
}

void TaskGraph::depend(TaskId task, TaskId prerequisite) {
  if (task >= tasks_.size() || prerequisite >= tasks_.size()) {
    throw std::invalid_argument("TaskGraph::depend: unknown task id");
  }
  edges_.emplace_back(prerequisite, task);
  sealed_ = false;
}

void TaskGraph::synchronize(std::span<const TaskId> tasks) {
  std::vector<TaskId> members(tasks.begin(), tasks.end());
  for (TaskId t : members) {
    if (t >= tasks_.size()) throw std::invalid_argument("TaskGraph::synchronize: unknown task id");
  }
  // "Start together" is transitive: a task already in a group pulls that whole group into this one.
  std::int32_t target = -1;
  for (TaskId t : tasks) {
    if (sync_group_of_[t] >= 0 && (target < 0 || sync_group_of_[t] < target)) target = sync_group_of_[t];
  }
  for (TaskId t : tasks) {
    const std::int32_t g = sync_group_of_[t];
    if (g >= 0 && g != target) {
      auto& old = sync_groups_[static_cast<std::size_t>(g)];
      members.insert(members.end(), old.begin(), old.end());
      old.clear();  // left empty; group ids stay stable
    }
  }
  if (target >= 0) {
    const auto& kept = sync_groups_[static_cast<std::size_t>(target)];
    members.insert(members.end(), kept.begin(), kept.end());
  }
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  if (members.size() < 2) return;  // a group of one constrains nothing
  if (target < 0) {
    target = static_cast<std::int32_t>(sync_groups_.size());
    sync_groups_.emplace_back();
  }
  for (TaskId t : members) sync_group_of_[t] = target;
  sync_groups_[static_cast<std::size_t>(target)] = std::move(members);
}

void TaskGraph::set_rank_name(std::int32_t rank, std::string name) {
  for (auto& [r, n] : rank_names_) {
    if (r == rank) {
      n = std::move(name);
      return;
    }
  }
  rank_names_.emplace_back(rank, std::move(name));
}

std::string TaskGraph::rank_name(std::int32_t rank) const {
  for (const auto& [r, n] : rank_names_) {
    if (r == rank) return n;
  }
  return "rank " + std::to_string(rank);
}

std::span<const TaskId> TaskGraph::prerequisites(TaskId id) const {
  seal();
  return {pre_.data() + pre_offsets_[id], pre_offsets_[id + 1] - pre_offsets_[id]};
}

std::span<const TaskId> TaskGraph::dependents(TaskId id) const {
  seal();
  return {post_.data() + post_offsets_[id], post_offsets_[id + 1] - post_offsets_[id]};
}

std::span<const TaskId> TaskGraph::sync_members(std::int32_t group) const {
  const auto& m = sync_groups_.at(static_cast<std::size_t>(group));
  return {m.data(), m.size()};
}

std::span<const TaskId> TaskGraph::tasks_of_rank(std::int32_t rank) const {
  seal();
  if (rank < 0 || rank >= rank_count_) return {};
  const auto r = static_cast<std::size_t>(rank);
  return {rank_tasks_.data() + rank_offsets_[r], rank_offsets_[r + 1] - rank_offsets_[r]};
}

namespace {

// Counting sort of (key, value) pairs into CSR; stable, so adjacency keeps insertion order (determinism).
template <class KeyOf, class ValueOf, class Range>
void build_csr(std::size_t keys, const Range& items, KeyOf key_of, ValueOf value_of,
               std::vector<std::uint32_t>& offsets, std::vector<TaskId>& values) {
  offsets.assign(keys + 1, 0);
  for (const auto& item : items) ++offsets[key_of(item) + 1];
  for (std::size_t k = 0; k < keys; ++k) offsets[k + 1] += offsets[k];
  values.resize(offsets[keys]);
  std::vector<std::uint32_t> cursor(offsets.begin(), offsets.end() - 1);
  for (const auto& item : items) values[cursor[key_of(item)]++] = value_of(item);
}

}  // namespace

void TaskGraph::seal() const {
  if (sealed_) return;
  const std::size_t n = tasks_.size();
  build_csr(n, edges_, [](const auto& e) { return e.second; }, [](const auto& e) { return e.first; }, pre_offsets_,
            pre_);
  build_csr(n, edges_, [](const auto& e) { return e.first; }, [](const auto& e) { return e.second; }, post_offsets_,
            post_);
  std::vector<TaskId> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<TaskId>(i);
  build_csr(static_cast<std::size_t>(rank_count_), ids,
            [this](TaskId t) { return static_cast<std::size_t>(tasks_[t].rank); }, [](TaskId t) { return t; },
            rank_offsets_, rank_tasks_);
  sealed_ = true;
}

}  // namespace hpsim::sim
