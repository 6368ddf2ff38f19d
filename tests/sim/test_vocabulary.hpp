#pragma once
// The engine tests' own streams and categories (sim knows none: its caller names them).
#include "sim/task_graph.hpp"

namespace hpsim_test {

enum Stream : hpsim::sim::StreamId { compute_stream, tp_stream, pp_stream, dp_stream };
enum Category : hpsim::sim::CategoryId { compute, recompute, tp_comm, cp_comm, ep_comm, pp_comm, dp_comm, optimizer, other };
inline constexpr std::size_t kCategoryCount = 9;

inline hpsim::sim::Vocabulary test_vocabulary() {
  return {{"compute", "tp_comm", "pp_comm", "dp_comm"},
          {"compute", "recompute", "tp_comm", "cp_comm", "ep_comm", "pp_comm", "dp_comm", "optimizer", "other"}};
}

}  // namespace hpsim_test
