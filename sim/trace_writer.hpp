#pragma once
/// Chrome / Perfetto trace (JSON "traceEvents"): one process per simulated rank, one thread per stream, named.
#include <ostream>

#include "sim/engine.hpp"
#include "sim/task_graph.hpp"

namespace hpsim::sim {

void write_chrome_trace(std::ostream& out, const TaskGraph& graph, const SimResult& result);

}  // namespace hpsim::sim
