#pragma once
/// The space of plans the planner searches: every field free, pinned or bounded by the user.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "models/formulas.hpp"
#include "planner/plan.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::planner {

/// Allowed values of an integer plan field: any, a list ("1,2,4") or an inclusive range ("4..16").
struct IntChoice {
  std::vector<std::int64_t> values;  ///< empty: no list
  std::int64_t min = 1;
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
  [[nodiscard]] bool allows(std::int64_t v) const;
  [[nodiscard]] bool pinned() const { return values.size() == 1; }
  /// "8", "1,2,4", "4..16", "..8", "2.."; errors name `field` (e.g. "--tp").
  static IntChoice parse(const std::string& text, const std::string& field);
};

/// What the user asks for: the fixed inputs and the constraints on every searched field.
struct SearchSpace {
  std::int64_t gpus = 0;               ///< GPUs to use; 0: the whole cluster
  std::int64_t global_batch_size = 0;  ///< required
  std::int64_t seq_length = 0;         ///< 0: the model's
  topologies::Precision precision = topologies::Precision::bf16;
  IntChoice tp, pp, cp, ep, vpp, micro_batch_size, zero, parameter_servers;
  std::vector<models::Recompute> recompute = {models::Recompute::none, models::Recompute::selective,
                                              models::Recompute::full};
  std::vector<bool> sp = {false, true};
  std::vector<Schedule> schedule = {Schedule::one_f_one_b};
  std::vector<bool> flash_attention = {false};
  bool tp_comm_overlap = false;
  bool overlap_grad_reduce = true;
  bool overlap_param_gather = true;
  bool tp_across_nodes = false;  ///< allow tp larger than a node's GPUs
  SearchSpace() {
    zero.min = 0;
    zero.max = 3;
    parameter_servers.values = {0};
  }
};

}  // namespace hpsim::planner
