#include "apps/run_preflight.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include <fmt/format.h>

#include "apps/output.hpp"
#include "core/error.hpp"
#include "exec/executed_run.hpp"
#include "exec/run_file.hpp"
#include "planner/cost_cache.hpp"
#include "planner/memory_model.hpp"
#include "planner/plan.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::apps {

namespace {

/// The first of `names` set to a positive integer (a rank: non-negative), or `fallback`.
int env_int(std::initializer_list<const char*> names, int fallback, int min = 1) {
  for (const char* name : names) {
    const char* text = std::getenv(name);
    if (text == nullptr) continue;
    int v = 0;
    const char* end = text + std::strlen(text);
    const auto [p, ec] = std::from_chars(text, end, v);
    if (ec == std::errc() && p == end && v >= min) return v;
  }
  return fallback;
}

/// This machine's memory (MemTotal: the figure hpsim calibrate divides among the ranks) over the ranks on this node.
double memory_per_rank_bytes(int local_ranks) {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<double>(pages) * static_cast<double>(page) / local_ranks;
}

/// hpsim-run's memory verdict without its calibration: the cpu calibration's memory per rank is this machine's
/// memory over the world's ranks (exec/calibration.cpp, no reserve), at least what it is over this node's ranks, and
/// the memory model reads nothing else of the cluster. Like hpsim-run, a plan the simulator cannot express is not
/// refused here.
void check_memory(const exec::ExecutedRun& ran, const RunArgs& a, const LauncherWorld& world) {
  const double per_rank = memory_per_rank_bytes(world.local_ranks);
  if (per_rank <= 0) return;
  topologies::ClusterSpec cluster = topologies::load_cluster("dgx-a100-80gb");  // its links and speeds go unread
  cluster.name = "this machine";
  cluster.nodes = 1;
  cluster.gpus_per_node = world.ranks;
  cluster.gpu.hbm_capacity = core::Bytes(per_rank);
  cluster.memory_reserve = core::Bytes(0);
  planner::MemoryUse use;
  try {
    const planner::Plan plan = planner::resolve_plan(ran.prediction_plan(), ran.model, cluster, a.plan_file);
    planner::CostCache cache(planner::Scenario(ran.model, cluster));
    use = planner::memory_use(cache, plan);
  } catch (const core::InputError&) {
    return;
  } catch (const core::InfeasibleError&) {
    return;
  }
  // The calibration writes its memory per rank to 6 significant digits: refuse only beyond that rounding.
  if (use.peak.value() <= per_rank * (1 + 1e-5)) return;
  throw core::InputError(a.plan_file, "plan",
                         fmt::format("refused before running: needs {} GiB per rank by hpsim's memory model, this "
                                     "machine has {} GiB per rank (its memory over {} rank{} on this node)",
                                     gib(use.peak), gib(core::Bytes(per_rank)), world.local_ranks,
                                     world.local_ranks == 1 ? "" : "s"));
}

}  // namespace

LauncherWorld launcher_world() {
  LauncherWorld w;
  // Not SLURM_NTASKS: a whole allocation's tasks, set too around a single process started without srun.
  w.ranks = env_int({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}, 1);
  w.rank = env_int({"OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"}, 0, 0);
  w.local_ranks = env_int({"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}, w.ranks);
  return w;
}

void check_run_before_handover(const RunArgs& a, const LauncherWorld& world) {
  const exec::RunFile file = exec::load_run_file(a.plan_file, a.plan_flags.values);
  const exec::ExecutedRun ran = exec::executed_run(file.model, file.plan, world.ranks, a.backend);
  // hpsim-run's memory verdict is on localhost's calibration; a cuda run's memory is the GPU's, unknown here.
  if (!a.no_preflight && file.cluster == "localhost" && a.backend == "cpu") check_memory(ran, a, world);
}

}  // namespace hpsim::apps
