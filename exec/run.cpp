#include "exec/run.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>

#include "core/error.hpp"
#include "core/fields.hpp"
#include "exec/mpi_comm.hpp"
#ifdef HPSIM_HAVE_CUDA
#include "exec/cuda_backend.hpp"
#include "exec/nccl_comm.hpp"
#endif
#include "exec/trainer.hpp"
#include "planner/plan_file.hpp"

namespace hpsim::exec {

namespace {

void require(bool ok, const std::string& field, const std::string& message) {
  if (!ok) throw core::InputError("run", field, message);
}

std::string n(std::int64_t v) { return std::to_string(v); }

#ifdef HPSIM_HAVE_CUDA
CudaPrecision cuda_precision(topologies::Precision p, std::vector<std::string>& notes) {
  std::erase_if(notes, [](const std::string& s) { return s.rfind("precision:", 0) == 0; });
  switch (p) {
    case topologies::Precision::fp32: return CudaPrecision::fp32;
    case topologies::Precision::fp16:
      notes.push_back("precision fp16: fp16 GEMM operands, fp32 accumulation, master weights and activations; "
                      "dynamic loss scaling");
      return CudaPrecision::fp16;
    case topologies::Precision::bf16:
      notes.push_back("precision bf16: bf16 GEMM operands, fp32 accumulation, master weights and activations");
      return CudaPrecision::bf16;
    case topologies::Precision::fp8:
      notes.push_back("precision fp8: ran bf16 GEMMs (no fp8 in the cuda backend)");
      return CudaPrecision::bf16;
  }
  return CudaPrecision::bf16;
}
#endif

}  // namespace

planner::Plan resolve_run_plan(const models::ModelSpec& model, planner::Plan plan, int world_size,
                               std::vector<std::string>* notes) {
  auto note = [&](const std::string& s) {
    if (notes != nullptr) notes->push_back(s);
  };
  require(plan.tp >= 1 && plan.pp >= 1 && plan.cp >= 1 && plan.dp >= 0, "plan", "expected positive tp, pp, cp, dp");
  const std::int64_t model_parallel = plan.tp * plan.pp * plan.cp;
  if (plan.dp == 0) {
    require(world_size % model_parallel == 0, "dp",
            "the MPI world has " + n(world_size) + " ranks, not a multiple of tp*pp*cp = " + n(model_parallel));
    plan.dp = world_size / model_parallel;
  }
  require(plan.gpus() == world_size, "ranks",
          "the plan needs " + n(plan.gpus()) + " ranks (tp " + n(plan.tp) + " x pp " + n(plan.pp) + " x dp " +
              n(plan.dp) + " x cp " + n(plan.cp) + ") but the MPI world has " + n(world_size) + "; run it with mpirun -np " +
              n(plan.gpus()));
  if (plan.seq_length == 0) plan.seq_length = model.seq_length;
  require(plan.seq_length > 0, "seq_length", "expected a positive sequence length");
  require(model.is_moe() == false, "model", "the executor runs dense models only (no MoE yet)");
  const std::int64_t kv_heads = model.num_kv_heads > 0 ? model.num_kv_heads : model.num_heads;
  require(model.num_heads % kv_heads == 0, "model",
          "heads (" + n(model.num_heads) + ") must divide by the key/value heads (" + n(kv_heads) + ")");
  require(model.hidden_size % model.num_heads == 0, "model",
          "hidden size (" + n(model.hidden_size) + ") must divide by heads (" + n(model.num_heads) + ")");
  require(model.position != models::PositionKind::rope || model.head_dim() % 2 == 0, "model",
          "rotary positions need an even head dimension (" + n(model.head_dim()) + ")");
  if (plan.cp > 1)
    require(plan.seq_length % (2 * plan.cp) == 0, "cp",
            "context parallelism splits each sequence in 2 cp = " + n(2 * plan.cp) + " chunks: the sequence length (" +
                n(plan.seq_length) + ") must divide by it");
  require(plan.ep == 1, "ep", "expert parallelism is not implemented in the executor");
  require(plan.vpp >= 1, "vpp", "expected at least 1");
  if (plan.vpp > 1) {
    require(plan.pp >= 2, "vpp", "the interleaved schedule (vpp > 1) needs pp >= 2");
    require(plan.schedule == planner::Schedule::one_f_one_b, "vpp",
            "the interleaved schedule (vpp > 1) is 1F1B's (schedule: 1f1b)");
    require(model.num_layers % (plan.pp * plan.vpp) == 0, "vpp",
            "layers (" + n(model.num_layers) + ") must divide by pp * vpp = " + n(plan.pp * plan.vpp));
  }
  require(plan.zero <= 1, "zero", "the executor implements ZeRO 0 and 1 only");
  require(plan.parameter_servers == 0, "parameter_servers", "parameter servers are not implemented in the executor");
  const std::int64_t ffn = model.ffn_hidden_size > 0 ? model.ffn_hidden_size : 4 * model.hidden_size;
  require(model.num_heads % plan.tp == 0, "tp", "heads (" + n(model.num_heads) + ") must divide by tp");
  require(kv_heads % plan.tp == 0, "tp", "key/value heads (" + n(kv_heads) + ") must divide by tp");
  require(model.vocab_size % plan.tp == 0, "tp", "vocab (" + n(model.vocab_size) + ") must divide by tp");
  require(ffn % plan.tp == 0, "tp", "ffn hidden size (" + n(ffn) + ") must divide by tp");
  require(model.num_layers % plan.pp == 0, "pp", "layers (" + n(model.num_layers) + ") must divide by pp");
  require(plan.micro_batch_size >= 1, "micro_batch_size", "expected at least 1");
  require(plan.global_batch_size > 0 && plan.global_batch_size % (plan.micro_batch_size * plan.dp) == 0,
          "global_batch_size",
          "expected a positive multiple of micro_batch_size * dp = " + n(plan.micro_batch_size * plan.dp));
  if (plan.vpp > 1)
    require(plan.micro_batches() % plan.pp == 0, "vpp",
            "the interleaved schedule needs micro-batches (" + n(plan.micro_batches()) + ") divisible by pp (" +
                n(plan.pp) + ")");
  if (plan.sp && plan.tp == 1) plan.sp = false;  // Megatron turns sequence parallelism off without TP
  if (plan.sp)
    require(plan.seq_length / plan.cp % plan.tp == 0, "sp",
            "sequence parallelism needs tp (" + n(plan.tp) + ") to divide the sequence per cp rank (" +
                n(plan.seq_length / plan.cp) + ")");
  if (plan.precision != topologies::Precision::fp32) note("precision: ran in fp32 (the CPU backend)");
  if (plan.tp_comm_overlap) note("tp_comm_overlap: not implemented; TP communication is blocking");
  if (plan.cp > 1 && plan.cp_comm_overlap)
    note("cp_comm_overlap: keys and values are all-gathered before the attention (blocking), not passed in a ring "
         "under it");
  if (plan.dp > 1 && plan.overlap_param_gather)
    note("overlap_param_gather: ZeRO-1's parameter all-gather follows the optimizer step");
  if (model.dropout) note("dropout: not applied");
  if (model.position == models::PositionKind::rope) note("rope: rotary base 10000");
  return plan;
}

RunResult run_plan(const models::ModelSpec& model, const planner::Plan& plan_in, const RunOptions& options,
                   MPI_Comm world) {
  int world_size = 0;
  check_mpi(MPI_Comm_size(world, &world_size), "MPI_Comm_size");
  RunResult r;
  r.plan = resolve_run_plan(model, plan_in, world_size, &r.notes);
  require(options.steps >= 1 && options.warmup >= 0, "steps", "expected at least one measured step");
#ifdef HPSIM_HAVE_CUDA
  require(options.backend == "cpu" || options.backend == "cuda", "backend",
          "'" + options.backend + "' is not a backend (cpu, cuda)");
  require(options.backend == "cpu" || r.plan.vpp == 1, "vpp",
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
    const CudaPrecision precision = cuda_precision(r.plan.precision, r.notes);
    backend = make_cuda_backend(device, precision);
    topt.loss_scaling.enabled = precision == CudaPrecision::fp16;  // fp16's range needs it; bf16's does not
    topt.comm_factory = [&b = *backend](MpiComm& group, bool p2p) { return make_nccl_comm(group.comm(), b, p2p); };
    timer = std::make_unique<CudaEventTimer>(*backend);
  }
#endif
  if (!backend) backend = make_cpu_backend();
  Trainer trainer(model, r.plan, *backend, world, topt);
  for (std::int64_t i = 0; i < options.warmup + options.steps; ++i) {
    if (options.on_step) options.on_step(i);
    check_mpi(MPI_Barrier(world), "MPI_Barrier");
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
  }
  if (options.on_step) options.on_step(options.warmup + options.steps);
  r.loss_scaling = topt.loss_scaling.enabled;
  r.loss_scale = trainer.loss_scale();
  r.skipped_steps = trainer.skipped_steps();
  if (r.loss_scaling)
    r.notes.push_back("loss scale " + std::to_string(r.loss_scale) + " after the run; " + n(r.skipped_steps) +
                      " step(s) skipped for non-finite gradients");
  auto sorted = r.step_times_s;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t k = sorted.size();
  r.measured_step_time_s = k % 2 == 1 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]);
  return r;
}

RunFile load_run_file(const std::string& path) {
  const core::Fields f(core::load_yaml_file(path), path);
  RunFile out;
  if (!f.has("model")) f.fail("model", "missing (required)");
  const std::string base = std::filesystem::path(path).parent_path().string();
  out.model = planner::model_from_ref(f.node()["model"], path + ": model", base);
  if (f.has("cluster") && f.node()["cluster"].IsScalar()) out.cluster = f.node()["cluster"].Scalar();
  out.plan = planner::plan_from_fields(f.child("plan"));
  return out;
}

int run_or_abort(MPI_Comm world, const std::function<int()>& body) {
  try {
    return body();
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
  MPI_Abort(world, 1);
  return 1;
}

}  // namespace hpsim::exec
