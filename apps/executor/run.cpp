// `hpsim run` in hpsim-run: MPI_Init, the run, hpsim's prediction of what ran beside it, MPI_Finalize.
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include <stdlib.h>  // getloadavg
#include <unistd.h>  // sysconf

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/executor/commands.hpp"
#include "apps/executor/watchdog.hpp"
#include "apps/localhost_cluster.hpp"
#include "core/error.hpp"
#ifdef HPSIM_HAVE_CUDA
#include "exec/cuda_backend.hpp"
#endif
#include "exec/fault_injection.hpp"
#include "exec/run.hpp"
#include "planner/plan_file.hpp"
#include "planner/step_simulation.hpp"
#include "costs/collectives.hpp"

namespace hpsim::apps {

namespace {

struct Prediction {
  std::optional<planner::StepResult> step;
  std::string cluster_label, cluster_file;
  std::vector<std::string> notes;  ///< why there is no prediction
};

/// The cluster hpsim predicts the run on (rank 0 only), and notes on why there is none.
struct PredictionCluster {
  std::optional<topologies::ClusterSpec> spec;
  std::string label, file;
  std::vector<std::string> notes;
};

/// How far a comparison of the measured step time can be trusted: the spread of the measured steps and the
/// machine's load when the run started.
struct Noise {
  double spread = 0;            ///< (slowest - fastest) / median of the measured steps
  double load_average_1m = -1;  ///< when the run started; -1: unknown
  long cpus = 1;
  [[nodiscard]] bool noisy() const {
    // 10 %: the scale of hpsim's validation errors (MAPE 3-10 %, docs/accuracy), so steps spread wider cannot tell
    // a prediction error from noise. 1.5 per CPU: the load past which `hpsim report` calls speed advisory.
    return spread > 0.10 || load_average_1m / static_cast<double>(cpus) > 1.5;
  }
};

Noise measure_noise(const exec::RunResult& r, double load_at_start) {
  Noise n;
  n.load_average_1m = load_at_start;
  n.cpus = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  if (!r.step_times_s.empty() && r.measured_step_time_s > 0) {
    const auto [lo, hi] = std::minmax_element(r.step_times_s.begin(), r.step_times_s.end());
    n.spread = (*hi - *lo) / r.measured_step_time_s;
  }
  return n;
}

double load_average_1m() {
  double load[1] = {-1};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

std::string render_table(const exec::RunResult& r, const Prediction& pred, const std::string& plan_file,
                         Format format, const Noise& noise) {
  const planner::Plan& plan = r.executed.plan;
  std::string s = fmt::format("{}: {} rank{} (tp {}{}{}, pp {}, dp {}), backend {}", plan_file, r.ranks,
                              r.ranks == 1 ? "" : "s", plan.tp, plan.sp ? " sp" : "",
                              plan.cp > 1 ? fmt::format(", cp {}", plan.cp) : "", plan.pp, plan.dp, r.backend);
  if (!pred.cluster_label.empty()) s += ", cluster " + pred.cluster_label;
  if (!pred.cluster_file.empty()) s += " (" + pred.cluster_file + ")";
  s += "\n\n";
  TextTable t;
  t.header = {"", "step time (s)"};
  t.rows.push_back({fmt::format("measured (median of {})", r.step_times_s.size()),
                    fmt::format("{:.3f}", r.measured_step_time_s)});
  if (pred.step) {
    const double p = pred.step->step_time.value();
    t.rows.push_back({fmt::format("predicted (hpsim simulate, {})", topologies::to_string(plan.precision)),
                      fmt::format("{:.3f}", p)});
    t.rows.push_back({"error (predicted - measured) / measured",
                      fmt::format("{:+.1f} %", 100 * (p - r.measured_step_time_s) / r.measured_step_time_s)});
  } else {
    t.rows.push_back({"predicted", "-"});
  }
  s += t.render(format);
  s += fmt::format("step times spread {:.1f} % (slowest - fastest) / median; load average {:.2f} on {} CPUs at the "
                   "start{}\n\n",
                   100 * noise.spread, noise.load_average_1m, noise.cpus,
                   noise.noisy() ? ": NOISY, the comparison is not reliable" : "");
  TextTable steps;
  steps.header = {"step", "time (s)", "loss"};
  const std::int64_t first_measured = r.first_step + static_cast<std::int64_t>(r.warmup_loss.size());
  for (std::size_t i = 0; i < r.step_times_s.size(); ++i)
    steps.rows.push_back({std::to_string(first_measured + static_cast<std::int64_t>(i)), fmt::format("{:.3f}", r.step_times_s[i]), fmt::format("{:.4f}", r.loss[i])});
  s += steps.render(format);
  if (!r.resumed_from.empty())
    s += fmt::format("resumed from {} (step {})\n", r.resumed_from, r.first_step - 1);
  if (!r.checkpoints.empty())
    s += fmt::format("checkpoints written at step{} {}\n", r.checkpoints.size() == 1 ? "" : "s",
                     fmt::join(r.checkpoints, ", "));
  s += fmt::format("weights digest {:016x} (fnv1a64 over every rank's final weights)\n", r.weights_digest);
  for (const auto& n : r.executed.notes) s += "note: " + n + "\n";
  return s;
}

/// Checks every rank makes identically (same file, same world); an InputError when the run cannot start.
exec::RunFile load_checked_run(const RunArgs& a, int ranks) {
  exec::RunFile file = exec::load_run_file(a.plan_file, a.plan_flags.values);
  (void)exec::executed_run(file.model, file.plan, ranks, a.backend);
  (void)exec::FaultInjection::from_environment();
#ifndef HPSIM_HAVE_CUDA
  if (a.backend != "cpu")
    throw core::InputError("command line", "--backend",
                           "'" + a.backend + "' is not available in this build (built without CUDA and NCCL)");
#else
  if (a.backend == "cuda") {  // every rank needs a GPU (collective: all ranks fail alike), before calibrating
    try {
      (void)exec::select_cuda_device(MPI_COMM_WORLD);
    } catch (const std::runtime_error& e) {
      throw core::InputError("run", "--backend", e.what());
    }
  }
#endif
  return file;
}

/// Rank 0's choice of the checkpoint to resume from (the newest complete one of --resume, checked against this run),
/// told to every rank: its step, 0 without --resume, or -1 when the run cannot resume (rank 0 has said why, once).
std::int64_t choose_resume_step(const exec::RunFile& file, const RunArgs& a, int rank, int ranks) {
  if (a.resume_dir.empty()) return 0;
  std::int64_t step = -1;
  if (rank == 0) {
    try {
      const exec::ResumePoint point = exec::find_resume_point(a.resume_dir);
      const std::string torn = point.skipped.empty() ? "" : fmt::format(" ({} torn one{} skipped: {})",
                                                                       point.skipped.size(),
                                                                       point.skipped.size() == 1 ? "" : "s",
                                                                       fmt::join(point.skipped, "; "));
      if (point.step_dir.empty())
        throw core::InputError(a.resume_dir, "--resume", "no complete checkpoint" + torn);
      const exec::ExecutedRun ran = exec::executed_run(file.model, file.plan, ranks, a.backend);
      const std::string differs =
          exec::resume_mismatch(point, exec::run_identity(ran, exec::RunOptions{}.seed, a.backend), ranks);
      if (!differs.empty())
        throw core::InputError(a.resume_dir, "--resume",
                               fmt::format("the checkpoint at step {} is of another run: {}", point.step, differs));
      if (point.step >= a.warmup + a.steps)
        throw core::InputError(a.resume_dir, "--resume",
                               fmt::format("the newest complete checkpoint is at step {}, and --warmup {} + --steps {} "
                                           "end the run at step {}: nothing left to run",
                                           point.step, a.warmup, a.steps, a.warmup + a.steps));
      for (const auto& s : point.skipped)
        std::cerr << "hpsim run: --resume " << a.resume_dir << ": skipped torn checkpoint " << s << "\n";
      std::cerr << "hpsim run: resuming from " << point.step_dir << " (step " << point.step << ")\n";
      step = point.step;
    } catch (const core::InputError& e) {
      std::cerr << "hpsim: error: " << e.what() << "\n";
    }
  }
  MPI_Bcast(&step, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
  return step;
}

/// localhost: the backend's calibration of this many ranks busy at once, made now if missing (collective: every
/// rank calls it).
PredictionCluster localhost_prediction_cluster(const RunArgs& a, int rank, int ranks) {
  const std::string path = localhost_cache_file(ranks, a.backend);
  // A cached file without a current calibration block (an older hpsim's) is made anew like a missing one.
  int usable = rank == 0 && calibrated_ranks(path) == ranks ? 1 : 0;
  MPI_Bcast(&usable, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (usable == 0) {
    if (rank == 0)
      std::cerr << "hpsim run: no current " << a.backend << " calibration of this machine for " << ranks << " rank"
                << (ranks == 1 ? "" : "s") << " in " << cache_dir() << "; calibrating first (about 15 s)\n";
    CalibrateArgs ca;
    ca.backend = a.backend;
    calibrate_and_write(ca, path, true);
    if (rank == 0 && calibrated_ranks(localhost_cache_file()) == 0)  // none, or an older hpsim's
      std::filesystem::copy_file(path, localhost_cache_file(), std::filesystem::copy_options::overwrite_existing);
  }
  PredictionCluster c;
  if (rank == 0) {
    c.spec = topologies::load_cluster(path);
    c.label = "localhost";
    c.file = path;
  }
  return c;
}

/// The plan file's cluster; none (with a note) when it names none or cannot be read.
PredictionCluster plan_file_prediction_cluster(const RunArgs& a) {
  PredictionCluster c;
  try {
    const auto pf = planner::load_plan_file(a.plan_file, resolve_cluster_name);
    if (pf.has_cluster) {
      c.spec = pf.cluster;
      c.label = cluster_label(*c.spec);
    } else {
      c.notes.push_back("no cluster in the plan file: no prediction");
    }
  } catch (const std::exception& e) {
    c.notes.push_back(std::string("no prediction: ") + e.what());
  }
  return c;
}

PredictionCluster load_prediction_cluster(const exec::RunFile& file, const RunArgs& a, int rank, int ranks) {
  if (file.cluster == "localhost") return localhost_prediction_cluster(a, rank, ranks);
  return rank == 0 ? plan_file_prediction_cluster(a) : PredictionCluster{};
}

/// The simulator's verdict on the run before any training, on the machine it runs on (the localhost calibration:
/// this machine's memory per rank and speed): a reason to refuse, or empty. A plan the simulator cannot express is
/// not refused here (the run's note says why there is no prediction).
std::string preflight_refusal(const exec::RunFile& file, const PredictionCluster& cluster, const RunArgs& a,
                              int ranks) {
  if (file.cluster != "localhost" || !cluster.spec) return "";
  const exec::ExecutedRun ran = exec::executed_run(file.model, file.plan, ranks, a.backend);
  planner::StepResult step;
  try {
    const planner::Plan plan = planner::resolve_plan(ran.prediction_plan(), ran.model, *cluster.spec, a.plan_file);
    step = planner::simulate_step(planner::Scenario(ran.model, *cluster.spec), plan, {}).result;
  } catch (const core::InputError&) {
    return "";
  } catch (const core::InfeasibleError&) {
    return "";
  }
  if (!step.memory.fits())
    return fmt::format("needs {} GiB per rank by hpsim's memory model, this machine has {} GiB per rank ({})",
                       gib(step.memory.peak), gib(step.memory.usable), cluster.file);
  if (step.step_time.value() > a.step_timeout_s)
    return fmt::format("one step takes {:.3g} s by hpsim's prediction on this machine ({}), more than "
                       "--step-timeout-s {:g} s",
                       step.step_time.value(), cluster.file, a.step_timeout_s);
  return "";
}

/// Rank 0's pre-flight verdict on every rank: true when the run may start (rank 0 has printed why not).
bool preflight_passes(const exec::RunFile& file, const PredictionCluster& cluster, const RunArgs& a, int rank,
                      int ranks) {
  int refuse = 0;
  if (rank == 0) {
    const std::string why = preflight_refusal(file, cluster, a, ranks);
    if (!why.empty()) std::cerr << "hpsim: error: " << a.plan_file << ": plan: refused before running: " << why << "\n";
    refuse = why.empty() ? 0 : 1;
  }
  MPI_Bcast(&refuse, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return refuse == 0;
}

/// The run, under a watchdog that aborts the job when a step outlives --step-timeout-s.
exec::RunResult run_watched(const exec::RunFile& file, const RunArgs& a, std::int64_t resume_step) {
  exec::RunOptions opt;
  opt.steps = a.steps;
  opt.warmup = a.warmup;
  opt.backend = a.backend;
  opt.checkpoint_every = a.checkpoint_every;
  opt.checkpoint_dir = a.checkpoint_dir;
  if (resume_step > 0) opt.resume = exec::resume_point_at(a.resume_dir, resume_step);  // rank 0 checked it whole
  const std::int64_t total = a.warmup + a.steps;
  Watchdog watchdog(a.step_timeout_s, MPI_COMM_WORLD);
  opt.on_step = [&](std::int64_t i) { watchdog.beat(i < total ? i : -1); };
  return exec::run_plan(file.model, file.plan, opt, MPI_COMM_WORLD);
}

/// hpsim's prediction of what ran: the executed model and plan, on the prediction cluster; none (with a note) when
/// it cannot be simulated.
Prediction predict(const exec::RunResult& r, const PredictionCluster& cluster, const std::string& plan_file) {
  Prediction pred;
  pred.cluster_label = cluster.label;
  pred.cluster_file = cluster.file;
  pred.notes = cluster.notes;
  if (!cluster.spec) return pred;
  try {
    const auto& ran = r.executed;
    const planner::Plan plan = planner::resolve_plan(ran.prediction_plan(), ran.model, *cluster.spec, plan_file);
    pred.step = planner::simulate_step(planner::Scenario(ran.model, *cluster.spec), plan, {}).result;
  } catch (const std::exception& e) {
    pred.notes.push_back(std::string("no prediction: ") + e.what());
  }
  return pred;
}

nlohmann::json render_json(const exec::RunResult& r, const Prediction& pred, const std::string& plan_file,
                           const Noise& noise) {
  nlohmann::json j;
  j["step_time_spread"] = noise.spread;
  j["load_average_1m"] = noise.load_average_1m;
  j["cpus"] = noise.cpus;
  j["noisy"] = noise.noisy();
  j["plan"] = plan_to_json(r.executed.plan);
  j["plan_file"] = plan_file;
  j["backend"] = r.backend;
  j["ranks"] = r.ranks;
  j["measured_step_time_s"] = r.measured_step_time_s;
  j["step_times_s"] = r.step_times_s;
  j["loss"] = r.loss;
  j["warmup_loss"] = r.warmup_loss;
  j["first_step"] = r.first_step;
  j["resumed_from"] = r.resumed_from.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.resumed_from);
  j["checkpoints"] = r.checkpoints;
  j["weights_digest"] = fmt::format("{:016x}", r.weights_digest);
  if (r.loss_scaling) {
    j["loss_scale"] = r.loss_scale;
    j["skipped_steps"] = r.skipped_steps;
  }
  j["cluster"] = pred.cluster_label;
  if (!pred.cluster_file.empty()) j["cluster_file"] = pred.cluster_file;
  if (pred.step) {
    const double p = pred.step->step_time.value();
    j["predicted_step_time_s"] = p;
    j["error"] = (p - r.measured_step_time_s) / r.measured_step_time_s;
    j["prediction"] = step_to_json(*pred.step);
  } else {
    j["predicted_step_time_s"] = nullptr;
    j["error"] = nullptr;
  }
  j["notes"] = r.executed.notes;
  return j;
}

/// What every rank runs once the run has been checked: the prediction cluster, the run, and on rank 0 the
/// prediction and the output.
int run_and_report(const exec::RunFile& file, const RunArgs& a, Format format, int rank, int ranks,
                   std::int64_t resume_step) {
  const PredictionCluster cluster = load_prediction_cluster(file, a, rank, ranks);
  if (!a.no_preflight && !preflight_passes(file, cluster, a, rank, ranks)) return 2;
  const double load_at_start = load_average_1m();
  exec::RunResult r = run_watched(file, a, resume_step);
  if (rank != 0) return 0;
  const Prediction pred = predict(r, cluster, a.plan_file);
  r.executed.notes.insert(r.executed.notes.end(), pred.notes.begin(), pred.notes.end());
  const Noise noise = measure_noise(r, load_at_start);
  if (noise.noisy())
    std::cerr << fmt::format("hpsim run: warning: the measurement is too noisy to compare with the prediction (step "
                             "times spread {:.1f} %, load average {:.2f} on {} CPUs at the start)\n",
                             100 * noise.spread, noise.load_average_1m, noise.cpus);
  if (format == Format::json)
    std::cout << render_json(r, pred, a.plan_file, noise).dump(2) << "\n";
  else
    std::cout << render_table(r, pred, a.plan_file, format, noise);
  std::cout.flush();
  return 0;
}

}  // namespace

MpiWorld start_mpi() {
  int provided = 0;
  // Multiple: the step watchdogs talk to each other while the main threads wait in MPI (apps/executor/watchdog.hpp).
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  MpiWorld w;
  MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &w.ranks);
  return w;
}

int run_command(const RunArgs& a, Format format) {
  const auto [rank, ranks] = start_mpi();

  // Report a run that cannot start once, and end cleanly with status 2.
  exec::RunFile file;
  try {
    file = load_checked_run(a, ranks);
  } catch (const core::InputError& e) {
    if (rank == 0) std::cerr << "hpsim: error: " << e.what() << "\n";
    MPI_Finalize();
    return 2;
  }
  const std::int64_t resume_step = choose_resume_step(file, a, rank, ranks);
  if (resume_step < 0) {
    MPI_Finalize();
    return 2;
  }
  const int status =
      exec::run_or_abort(MPI_COMM_WORLD, [&] { return run_and_report(file, a, format, rank, ranks, resume_step); });
  MPI_Finalize();
  return status;
}

}  // namespace hpsim::apps
