// hpsim-exec-run: a stand-alone driver of the executor until `hpsim run` is wired in apps/ (and the reference for
// that `main`): mpirun -np N hpsim-exec-run PLAN_FILE [STEPS] [WARMUP] [BACKEND]. Prints measured times only (no prediction).
#include <mpi.h>

#include <cstdio>
#include <string>

#include "exec/run.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const int status = hpsim::exec::run_or_abort(MPI_COMM_WORLD, [&] {
    if (argc < 2) throw std::runtime_error("usage: hpsim-exec-run PLAN_FILE [STEPS] [WARMUP] [cpu|cuda]");
    const auto file = hpsim::exec::load_run_file(argv[1]);
    hpsim::exec::RunOptions opt;
    if (argc > 2) opt.steps = std::stoll(argv[2]);
    if (argc > 3) opt.warmup = std::stoll(argv[3]);
    if (argc > 4) opt.backend = argv[4];
    const auto r = hpsim::exec::run_plan(file.model, file.plan, opt, MPI_COMM_WORLD);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) {
      std::printf("%s: %d ranks (tp %lld pp %lld dp %lld), backend %s\n", argv[1], r.ranks,
                  static_cast<long long>(r.plan.tp), static_cast<long long>(r.plan.pp),
                  static_cast<long long>(r.plan.dp), r.backend.c_str());
      for (std::size_t i = 0; i < r.loss.size(); ++i)
        std::printf("  step %zu: %.3f s, loss %.4f\n", i + 1, r.step_times_s[i], r.loss[i]);
      std::printf("  measured step time (median): %.3f s\n", r.measured_step_time_s);
      for (const auto& n : r.notes) std::printf("  note: %s\n", n.c_str());
    }
    return 0;
  });
  MPI_Finalize();
  return status;
}
