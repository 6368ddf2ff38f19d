#include "exec/run.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>

#include "core/error.hpp"
#include "exec/comm_wait.hpp"
#include "exec/executed_run.hpp"
#include "exec/fault_injection.hpp"
#include "exec/mpi_comm.hpp"
#ifdef HPSIM_HAVE_CUDA
#include "exec/cuda_backend.hpp"
#include "exec/nccl_comm.hpp"
#endif
#include "exec/trainer.hpp"

namespace hpsim::exec {

namespace {

void require(bool ok, const std::string& field, const std::string& message) {
  if (!ok) throw core::InputError("run", field, message);
}

std::string n(std::int64_t v) { return std::to_string(v); }

#ifdef HPSIM_HAVE_CUDA
CudaPrecision cuda_precision(topologies::Precision p, std::vector<std::string>& notes) {
  switch (p) {
    case topologies::Precision::fp32: return CudaPrecision::fp32;
    case topologies::Precision::fp16:
      notes.push_back("precision fp16: fp16 GEMM operands, fp32 accumulation, master weights and activations; "
                      "dynamic loss scaling");
      return CudaPrecision::fp16;
    case topologies::Precision::bf16:
      notes.push_back("precision bf16: bf16 GEMM operands, fp32 accumulation, master weights and activations");
      return CudaPrecision::bf16;
    case topologies::Precision::fp8: return CudaPrecision::bf16;  // executed_run runs fp8 plans as bf16
  }
  return CudaPrecision::bf16;
}
#endif

/// fnv1a64 of every rank's parameter digest in rank order (collective).
std::uint64_t weights_digest(Trainer& trainer, ComputeBackend& backend, MPI_Comm world) {
  std::vector<float> w(trainer.shard().param_elements());
  backend.download(w.data(), trainer.shard().param_data(), w.size());
  const std::uint64_t mine = fnv1a64(w.data(), w.size() * sizeof(float));
  int ranks = 1;
  check_mpi(MPI_Comm_size(world, &ranks), "MPI_Comm_size");
  std::vector<std::uint64_t> all(static_cast<std::size_t>(ranks));
  const CommunicationWait waiting;
  check_mpi(MPI_Allgather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, world), "MPI_Allgather");
  return fnv1a64(all.data(), all.size() * sizeof(std::uint64_t));
}

}  // namespace

RunResult run_plan(const models::ModelSpec& model, const planner::Plan& plan_in, const RunOptions& options,
                   MPI_Comm world) {
  int world_size = 0;
  check_mpi(MPI_Comm_size(world, &world_size), "MPI_Comm_size");
  RunResult r;
  r.executed = executed_run(model, plan_in, world_size, options.backend);
  const planner::Plan& plan = r.executed.plan;
  require(options.steps >= 1 && options.warmup >= 0, "steps", "expected at least one measured step");
#ifdef HPSIM_HAVE_CUDA
  require(options.backend == "cpu" || options.backend == "cuda", "backend",
          "'" + options.backend + "' is not a backend (cpu, cuda)");
  require(options.backend == "cpu" || plan.vpp == 1, "vpp",
          "the interleaved schedule (vpp > 1) runs on the cpu backend only (NCCL messages are matched in order)");
#else
  require(options.backend == "cpu", "backend",
          "'" + options.backend + "' is not available (this build has the cpu backend; cuda needs a build with "
          "HPSIM_BUILD_CUDA: the CUDA Toolkit and NCCL)");
#endif
  r.backend = options.backend;
  r.ranks = world_size;
  std::unique_ptr<ComputeBackend> backend;
  TrainerOptions topt;
  topt.seed = options.seed;
  topt.adam = options.adam;
#ifdef HPSIM_HAVE_CUDA
  std::unique_ptr<CudaEventTimer> timer;
  if (options.backend == "cuda") {
    int device = -1;
    try {
      device = select_cuda_device(world);  // collective; throws on every rank when any rank lacks a device
    } catch (const std::runtime_error& e) {
      throw core::InputError("run", "backend", e.what());
    }
    const CudaPrecision precision = cuda_precision(plan.precision, r.executed.notes);
    backend = make_cuda_backend(device, precision);
    topt.loss_scaling.enabled = precision == CudaPrecision::fp16;  // fp16's range needs it; bf16's does not
    topt.comm_factory = [&b = *backend](MpiComm& group, bool p2p) { return make_nccl_comm(group.comm(), b, p2p); };
    timer = std::make_unique<CudaEventTimer>(*backend);
  }
#endif
  if (!backend) backend = make_cpu_backend();
  const FaultInjection fault = FaultInjection::from_environment();
  const RunIdentity identity = run_identity(r.executed, options.seed, options.backend);
  const std::int64_t total = options.warmup + options.steps;
  require(options.checkpoint_every >= 0 && (options.checkpoint_every == 0 || !options.checkpoint_dir.empty()),
          "checkpoint_every", "expected a positive step count and a checkpoint directory");
  int rank = 0;
  check_mpi(MPI_Comm_rank(world, &rank), "MPI_Comm_rank");
  Trainer trainer(r.executed.model, plan, *backend, world, topt);
  if (options.resume) {
    require(options.resume->step < total, "resume",
            "the checkpoint is at step " + n(options.resume->step) + ", at or past the run's last, " + n(total));
    const std::string mismatch = resume_mismatch(*options.resume, identity, world_size);
    require(mismatch.empty(), "resume", options.resume->step_dir + ": another run: " + mismatch);
    trainer.load_state(read_checkpoint_shard(*options.resume, rank));
    r.resumed_from = options.resume->step_dir;
  }
  r.first_step = trainer.steps_done() + 1;
  for (std::int64_t i = trainer.steps_done(); i < total; ++i) {
    if (options.on_step) options.on_step(i);
    fault.strike_if(FaultKind::stall, rank, i + 1);
    {
      const CommunicationWait waiting;
      check_mpi(MPI_Barrier(world), "MPI_Barrier");
    }
    fault.strike_if(FaultKind::exit, rank, i + 1);  // the others are in the step now
    const double t0 = MPI_Wtime();
#ifdef HPSIM_HAVE_CUDA
    if (timer) timer->start();
#endif
    const double loss = trainer.step();
    double dt = MPI_Wtime() - t0;
#ifdef HPSIM_HAVE_CUDA
    if (timer) dt = timer->stop();  // CUDA events on the compute stream (step() ends with a device synchronize)
#endif
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, world), "MPI_Allreduce");
    if (i < options.warmup) {
      r.warmup_loss.push_back(loss);
    } else {
      r.loss.push_back(loss);
      r.step_times_s.push_back(dt);
    }
    if (options.checkpoint_every > 0 && (i + 1) % options.checkpoint_every == 0) {
      write_checkpoint(trainer, options.checkpoint_dir, identity, world);
      r.checkpoints.push_back(i + 1);
    }
  }
  r.weights_digest = weights_digest(trainer, *backend, world);
  if (options.on_step) options.on_step(total);
  r.loss_scaling = topt.loss_scaling.enabled;
  r.loss_scale = trainer.loss_scale();
  r.skipped_steps = trainer.skipped_steps();
  if (r.loss_scaling)
    r.executed.notes.push_back("loss scale " + std::to_string(r.loss_scale) + " after the run; " + n(r.skipped_steps) +
                      " step(s) skipped for non-finite gradients");
  auto sorted = r.step_times_s;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t k = sorted.size();
  r.measured_step_time_s = k == 0 ? 0 : k % 2 == 1 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]);
  return r;
}

int run_or_abort(MPI_Comm world, const std::function<int()>& body) {
  int status = 1;
  try {
    return body();
  } catch (const core::InputError& e) {
    int rank = -1;
    MPI_Comm_rank(world, &rank);
    std::fprintf(stderr, "hpsim run: rank %d: %s\n", rank, e.what());
    status = 2;
  } catch (const std::exception& e) {
    int rank = -1;
    MPI_Comm_rank(world, &rank);
    std::fprintf(stderr, "hpsim run: rank %d: %s\n", rank, e.what());
  } catch (...) {
    int rank = -1;
    MPI_Comm_rank(world, &rank);
    std::fprintf(stderr, "hpsim run: rank %d: unknown exception\n", rank);
  }
  std::fflush(stderr);
  MPI_Abort(world, status);
  return status;
}

}  // namespace hpsim::exec
