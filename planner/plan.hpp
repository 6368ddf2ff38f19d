#pragma once
/// A hybrid-parallel training plan (Megatron-LM's meaning of every field), as a value type.
#include <cstdint>
#include <string>

#include "core/fields.hpp"
#include "models/formulas.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::planner {

enum class Schedule { gpipe, one_f_one_b };

/// Every field of CONTRACT.md's plan table. dp == 0 means "derive from the GPU count".
struct Plan {
  std::int64_t tp = 1, pp = 1, dp = 0, cp = 1, ep = 1, vpp = 1;
  bool sp = false;
  std::int64_t micro_batch_size = 1;
  std::int64_t global_batch_size = 0;
  std::int64_t seq_length = 0;  ///< 0: the model's
  models::Recompute recompute = models::Recompute::none;
  std::int64_t zero = 0;
  topologies::Precision precision = topologies::Precision::bf16;
  Schedule schedule = Schedule::one_f_one_b;
  bool tp_comm_overlap = false;
  bool overlap_grad_reduce = true;
  bool overlap_param_gather = true;
  bool flash_attention = false;  ///< Megatron's --use-flash-attn (off by default, as in Megatron-LM)

  [[nodiscard]] std::int64_t gpus() const { return tp * pp * dp * cp; }
  [[nodiscard]] std::int64_t micro_batches() const { return global_batch_size / (micro_batch_size * dp); }
};

std::string to_string(models::Recompute r);
std::string to_string(Schedule s);

}  // namespace hpsim::planner
