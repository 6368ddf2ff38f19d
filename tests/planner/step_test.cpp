#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>

#include "core/error.hpp"
#include "models/formulas.hpp"
#include "planner/memory_model.hpp"
#include "planner/step_costs.hpp"
#include "planner/step_graph.hpp"
#include "sim/engine.hpp"
#include "sim/trace_writer.hpp"
#include "planner/step_simulation.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

Plan make_plan(std::int64_t tp, std::int64_t pp, std::int64_t gbs) {
  Plan p;
  p.tp = tp;
  p.pp = pp;
  p.global_batch_size = gbs;
  p.flash_attention = false;  // the A100-era Megatron runs these formulas describe
  return p;
}

StepResult run(const std::string& model, const std::string& cluster, Plan plan, RankMode mode = RankMode::representative) {
  const auto m = models::load_model(model);
  const auto c = topologies::load_cluster(cluster);
  plan = resolve_plan(plan, m, c, "test");
  SimulateOptions o;
  o.mode = mode;
  return simulate_step(Scenario(m, c), plan, o).result;
}

double breakdown_sum(const StepBreakdown& b) {
  return (b.compute + b.tp_comm_exposed + b.cp_comm_exposed + b.ep_comm_exposed + b.pp_bubble + b.pp_comm_exposed +
          b.dp_comm_exposed + b.other)
      .value();
}


/// Llama 3 70B at tp 8 on 16 DGX H100 nodes, pp 4: the second stage holds 20 layers and neither the embedding nor
/// the LM head, so its TP traffic is the layers' alone; one micro-batch's hidden state is 8192 x 8192 in 16 bits.
struct Llama70bTpStage {
  explicit Llama70bTpStage(const std::function<void(Plan&)>& set)
      : model(models::load_model("llama3-70b")), cluster(topologies::load_cluster("dgx-h100:16")),
        cache(Scenario(model, cluster)) {
    Plan p = make_plan(8, 4, 64);
    p.flash_attention = true;
    p.seq_length = 8192;
    set(p);
    plan = resolve_plan(p, model, cluster, "test");
    layer = cache.ops(OpsPart::layer, plan);
    chunk = compute_step_costs(cache, plan).chunks.at(1);
  }
  /// A TP collective's time on `fraction` of the hidden state.
  [[nodiscard]] double tp_time(costs::Collective op, double fraction = 1.0) {
    return cache.collective(op, Communicator::tp, plan).time(core::Bytes(fraction * 8192.0 * 8192.0 * 2.0)).value();
  }
  [[nodiscard]] double layers() const { return static_cast<double>(chunk.layers); }

  models::ModelSpec model;
  topologies::ClusterSpec cluster;
  CostCache cache;
  Plan plan;
  OpsCost layer;
  ChunkCost chunk;
};

}  // namespace

TEST_CASE("representative and full per-rank simulation give the same step time on small clusters") {
  struct Case {
    std::int64_t tp, pp, vpp, mbs, gbs, zero;
    bool sp, overlap;
  };
  for (const Case& k : {Case{2, 2, 1, 1, 16, 0, false, true}, Case{2, 2, 2, 1, 16, 1, true, true},
                        Case{4, 2, 1, 2, 32, 0, false, false}, Case{1, 4, 1, 1, 16, 0, false, true},
                        Case{8, 1, 1, 1, 8, 3, true, true}}) {
    Plan p = make_plan(k.tp, k.pp, k.gbs);
    p.vpp = k.vpp;
    p.micro_batch_size = k.mbs;
    p.zero = k.zero;
    p.sp = k.sp;
    p.overlap_grad_reduce = k.overlap;
    const auto rep = run("gpt-1.7b", "dgx-a100-80gb:2", p, RankMode::representative);
    const auto full = run("gpt-1.7b", "dgx-a100-80gb:2", p, RankMode::full);
    CAPTURE(k.tp);
    CAPTURE(k.pp);
    CHECK(full.step_time.value() == doctest::Approx(rep.step_time.value()).epsilon(1e-9));
    CHECK(full.tasks > rep.tasks);
  }
}

TEST_CASE("the breakdown adds up to the step time and the simulation is deterministic") {
  Plan p = make_plan(8, 8, 1536);
  p.recompute = models::Recompute::full;
  p.precision = topologies::Precision::fp16;
  const auto a = run("gpt3-175b", "dgx-a100-80gb:128", p);
  const auto b = run("gpt3-175b", "dgx-a100-80gb:128", p);
  CHECK(breakdown_sum(a.breakdown) == doctest::Approx(a.step_time.value()).epsilon(1e-9));
  CHECK(a.step_time.value() == b.step_time.value());
  CHECK(a.events == b.events);
  CHECK(a.breakdown.compute.value() > 0.5 * a.step_time.value());
  CHECK(a.breakdown.pp_bubble.value() > 0);
}

TEST_CASE("MFU and FLOP rates follow Megatron's formula") {
  Plan p = make_plan(8, 8, 1536);
  p.recompute = models::Recompute::full;
  p.precision = topologies::Precision::fp16;
  const auto r = run("gpt3-175b", "dgx-a100-80gb:128", p);
  const auto model = models::load_model("gpt3-175b");
  const double flops = models::megatron_step_flops(model, 1536, 2048, false).value();
  const double hw = models::megatron_step_flops(model, 1536, 2048, true).value();
  const double seconds = r.step_time.value();
  CHECK(r.model_tflops_per_gpu == doctest::Approx(flops / 1024 / seconds / 1e12).epsilon(0.002));
  CHECK(r.hardware_tflops_per_gpu == doctest::Approx(hw / 1024 / seconds / 1e12).epsilon(0.002));
  CHECK(r.mfu == doctest::Approx(r.model_tflops_per_gpu / 312.0).epsilon(1e-6));
  CHECK(r.tokens_per_s == doctest::Approx(1536.0 * 2048 / seconds));
}

TEST_CASE("memory model: weights, gradients and Adam states per GPU, sharded by ZeRO") {
  // GPT-3 175B, tp 8, pp 8: stage 0 holds 12 layers (12h^2 + 13h each) and the vocab-parallel embedding.
  Plan p = make_plan(8, 8, 1536);
  p.precision = topologies::Precision::bf16;
  p.recompute = models::Recompute::full;
  const auto model = models::load_model("gpt3-175b");
  const auto r = run("gpt3-175b", "dgx-a100-80gb:128", p);
  const double h = 12288;
  const double layer = 12 * h * h + 13 * h;
  const double stage0 = 12 * layer / 8 + (51200.0 * h + 2048 * h) / 8;
  CHECK(r.memory.stage == 0);
  CHECK(r.memory.weights.value() == doctest::Approx(2 * stage0).epsilon(1e-6));
  CHECK(r.memory.gradients.value() == doctest::Approx(4 * stage0).epsilon(1e-6));  // bf16 trains with fp32 grads
  CHECK(r.memory.optimizer.value() == doctest::Approx(12 * stage0).epsilon(1e-6));
  // Full recompute, 1F1B: stage 0 keeps p = 8 micro-batches x 12 layers of 2sbh, plus one layer rebuilt in full.
  const double sbh = 2048.0 * 1 * h;
  const double rebuilt = models::korthikanti_activation_bytes(model, 2048, 1, 8, false, models::Recompute::none).value();
  CHECK(r.memory.activations.value() > 8 * 12 * 2 * sbh + rebuilt);
  CHECK(r.memory.activations.value() < 8 * 12 * 2 * sbh + rebuilt + 2e9);

  Plan z1 = p;
  z1.zero = 1;
  const auto r1 = run("gpt3-175b", "dgx-a100-80gb:128", z1);
  CHECK(r1.memory.optimizer.value() == doctest::Approx(12 * stage0 / 16).epsilon(1e-6));
  CHECK(r1.memory.gradients.value() == doctest::Approx(r.memory.gradients.value()));
  Plan z3 = p;
  z3.zero = 3;
  const auto r3 = run("gpt3-175b", "dgx-a100-80gb:128", z3);
  CHECK(r3.memory.weights.value() == doctest::Approx(2 * stage0 / 16).epsilon(1e-6));
  CHECK(r3.memory.gradients.value() == doctest::Approx(4 * stage0 / 16).epsilon(1e-6));
}

TEST_CASE("memory model: selective recomputation and SP shrink activations as Korthikanti says") {
  const auto model = models::load_model("megatron-22b");
  Plan p = make_plan(8, 1, 4);
  p.micro_batch_size = 4;
  p.seq_length = 2048;
  p.dp = 1;
  p.sp = true;
  p.recompute = models::Recompute::selective;
  const double per_layer = layer_activation_bytes(model, p).value();
  CHECK(per_layer ==
        doctest::Approx(models::korthikanti_activation_bytes(model, 2048, 4, 8, true, models::Recompute::selective).value()));
  p.recompute = models::Recompute::full;
  CHECK(layer_activation_bytes(model, p).value() == doctest::Approx(2.0 * 2048 * 4 * 6144 / 8));
}

TEST_CASE("more data parallelism costs more exposed gradient reduction when it is not overlapped") {
  Plan a = make_plan(8, 1, 64);
  a.overlap_grad_reduce = false;
  Plan b = a;
  b.overlap_grad_reduce = true;
  b.micro_batch_size = 1;
  const auto not_overlapped = run("gpt-18.4b", "dgx-a100-80gb:8", a);
  const auto overlapped = run("gpt-18.4b", "dgx-a100-80gb:8", b);
  CHECK(not_overlapped.breakdown.dp_comm_exposed.value() > overlapped.breakdown.dp_comm_exposed.value());
  CHECK(not_overlapped.step_time.value() > overlapped.step_time.value());
}

TEST_CASE("context parallelism: an exposed key/value exchange (cp_comm_overlap false) costs its whole time") {
  Plan p = make_plan(8, 1, 16);
  p.cp = 2;
  p.seq_length = 8192;
  const auto hidden = run("llama3-70b", "dgx-h100:4", p);
  p.cp_comm_overlap = false;
  const auto exposed = run("llama3-70b", "dgx-h100:4", p);
  CHECK(exposed.breakdown.cp_comm_exposed.value() > hidden.breakdown.cp_comm_exposed.value());
  CHECK(exposed.step_time.value() > hidden.step_time.value());
  // Compute is the same either way.
  CHECK(exposed.breakdown.compute.value() == doctest::Approx(hidden.breakdown.compute.value()));
}

TEST_CASE("TP overlap: each collective hides behind its own GEMM, pipelined in tp chunks") {
  Llama70bTpStage t([](Plan& p) { p.sp = true, p.tp_comm_overlap = true; });
  // By hand: an all-gather hides behind 7/8 of the GEMMs that read its output (the first chunk is local); a
  // reduce-scatter behind 7/8 of the GEMM that feeds it, and its last chunk's transfer is always exposed.
  const double gather = t.tp_time(costs::Collective::all_gather);
  const double scatter = t.tp_time(costs::Collective::reduce_scatter);
  const auto feeding = [](double comm, double gemm) { return std::max(0.0, comm - gemm * 7.0 / 8.0); };
  const auto fed = [&](double comm, double gemm) { return std::max(feeding(comm, gemm), comm / 8.0); };
  const auto& f = t.layer.tp_gemm_forward;
  const auto& b = t.layer.tp_gemm_backward;
  double forward = 0, backward = 0;
  for (std::size_t pair : {0u, 2u}) {
    forward += feeding(gather, f[pair].value()) + fed(scatter, f[pair + 1].value());
    backward += fed(scatter, b[pair].value()) + feeding(gather, b[pair + 1].value());
  }
  REQUIRE(t.layers() == 20);
  CHECK(t.chunk.forward_tp.value() == doctest::Approx(forward * t.layers()));
  CHECK(t.chunk.backward_tp.value() == doctest::Approx(backward * t.layers()));
  // Each GEMM side is a real share of the layer: the projections and the MLP's two GEMMs all found.
  for (std::size_t side = 0; side < 4; ++side) CHECK(f[side].value() > 0);
  // Never more than the collectives themselves, never less than the reduce-scatters' last chunks.
  CHECK(t.chunk.forward_tp.value() <= 2 * (gather + scatter) * t.layers());
  CHECK(t.chunk.forward_tp.value() >= 2 * scatter / 8.0 * t.layers() * 0.999);
}

TEST_CASE("PyTorch's async TP sums its stacked partial outputs in a kernel of its own; Megatron's overlap does not") {
  const auto stage = [](Framework f, bool overlap, models::Recompute r) {
    return Llama70bTpStage([&](Plan& p) {
      p.sp = true, p.tp_comm_overlap = overlap, p.framework = f, p.recompute = r;
      if (f == Framework::fsdp) p.zero = 3;
    });
  };
  // By hand, per reduce-scatter: read the 8 unreduced partials (the whole 8192 x 8192 16-bit output), write this
  // rank's eighth, at the H100's achieved HBM bandwidth, plus one launch. Two per layer and direction.
  Llama70bTpStage plain = stage(Framework::fsdp, false, models::Recompute::full);
  Llama70bTpStage async = stage(Framework::fsdp, true, models::Recompute::full);
  const auto& gpu = plain.cluster.gpu;
  const double sum = 8192.0 * 8192.0 * 2.0 * (1.0 + 1.0 / 8.0) /
                         (gpu.hbm_bandwidth.value() * gpu.efficiency.memory_peak_fraction) +
                     gpu.efficiency.kernel_overhead.value();
  const double per_chunk = 2.0 * sum * plain.layers();
  CHECK(async.chunk.forward.value() - plain.chunk.forward.value() == doctest::Approx(per_chunk));
  CHECK(async.chunk.backward.value() - plain.chunk.backward.value() == doctest::Approx(per_chunk));
  // Full recomputation runs the forward's matmul-reduce-scatters again; per-op checkpointing keeps their outputs.
  CHECK(async.chunk.recompute.value() - plain.chunk.recompute.value() == doctest::Approx(per_chunk));
  Llama70bTpStage sac_plain = stage(Framework::fsdp, false, models::Recompute::op_selective);
  Llama70bTpStage sac_async = stage(Framework::fsdp, true, models::Recompute::op_selective);
  CHECK(sac_async.chunk.recompute.value() == doctest::Approx(sac_plain.chunk.recompute.value()));
  // Its chunks move on copy engines: the GEMMs keep every SM (Transformer Engine's userbuffers take some).
  CHECK(async.layer.forward.value() == doctest::Approx(plain.layer.forward.value()));
  Llama70bTpStage te_plain = stage(Framework::megatron, false, models::Recompute::none);
  Llama70bTpStage te_async = stage(Framework::megatron, true, models::Recompute::none);
  CHECK(te_async.layer.forward.value() > te_plain.layer.forward.value());
}

TEST_CASE("recomputation repeats TP traffic: all of it under full, SP's all-gathers under per-op checkpointing") {
  const auto stage = [](models::Recompute r) {
    return Llama70bTpStage([&](Plan& p) { p.sp = true, p.recompute = r, p.framework = Framework::fsdp, p.zero = 3; });
  };
  Llama70bTpStage full = stage(models::Recompute::full);
  Llama70bTpStage op_sac = stage(models::Recompute::op_selective);
  Llama70bTpStage none = stage(models::Recompute::none);
  // Two all-gathers per layer (into the QKV and the MLP's first GEMM) of the hidden state, not overlapped.
  CHECK(op_sac.chunk.recompute_tp.value() ==
        doctest::Approx(2 * op_sac.tp_time(costs::Collective::all_gather) * op_sac.layers()));
  CHECK(full.chunk.recompute_tp.value() == doctest::Approx(full.chunk.forward_tp.value()));
  CHECK(full.chunk.recompute_tp.value() > op_sac.chunk.recompute_tp.value());
  CHECK(none.chunk.recompute_tp.value() == 0);
}

TEST_CASE("FP8 with one scale per tensor all-gathers the TP inputs in FP8; finer scales gather 16-bit") {
  // Transformer Engine gathers the norm's FP8 output, torchao's Float8ColwiseParallel the FP8-cast input (tensorwise
  // only): the all-gathers move 1 byte per element, the reduce-scatters of 16-bit GEMM outputs still 2.
  for (const auto recipe : {costs::Fp8Recipe::delayed, costs::Fp8Recipe::tensorwise, costs::Fp8Recipe::rowwise,
                            costs::Fp8Recipe::blockwise}) {
    CAPTURE(static_cast<int>(recipe));
    Llama70bTpStage t([&](Plan& p) {
      p.sp = true, p.precision = topologies::Precision::fp8, p.fp8_recipe = recipe;
      if (recipe == costs::Fp8Recipe::rowwise) p.framework = Framework::fsdp;  // torchao's recipe
    });
    const double per_layer = t.chunk.forward_tp.value() / t.layers();
    const double half_gather =
        2 * (t.tp_time(costs::Collective::all_gather, 0.5) + t.tp_time(costs::Collective::reduce_scatter));
    if (recipe == costs::Fp8Recipe::delayed || recipe == costs::Fp8Recipe::tensorwise)
      CHECK(per_layer == doctest::Approx(half_gather));
    else
      CHECK(per_layer > half_gather * 1.05);  // the 16-bit all-gathers cost more
  }
}

TEST_CASE("FSDP with a pipeline gathers each stage's weights once a step and reduce-scatters its gradients once") {
  // torchtitan, Llama 3 8B, pp 2 over dp 4, 8 micro-batches: FULL_SHARD without a pipeline gathers every layer for
  // every micro-batch's forward and backward; with one, a stage's weights are gathered at their first use and kept,
  // and its gradients accumulated and reduce-scattered after the last backward.
  const auto m = models::load_model("llama3-8b");
  const auto c = topologies::load_cluster("dgx-h100:1");
  Plan p = make_plan(1, 2, 32);
  p.dp = 4, p.zero = 3, p.framework = Framework::fsdp, p.recompute = models::Recompute::full, p.seq_length = 2048;
  p = resolve_plan(p, m, c, "test");
  REQUIRE(p.micro_batches() == 8);
  const auto names = [&](const Plan& plan) {
    const StepCosts costs = compute_step_costs(Scenario(m, c), plan);
    const auto g = build_step_graph(costs, plan, RankMode::representative);
    std::ostringstream trace;
    sim::write_chrome_trace(trace, g.graph, sim::simulate(g.graph));
    return trace.str();
  };
  const auto count = [](const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  const std::string held = names(p);
  CHECK(count(held, "\"param all-gather") == 2);  // one per stage (its one chunk), at the step's start
  CHECK(count(held, "param all-gather (bwd") == 0);
  CHECK(count(held, "gradient reduce-scatter") == 0);
  CHECK(count(held, "\"gradient reduce") > 0);  // the last backward's buckets
  Plan megatron = p;
  megatron.framework = Framework::megatron;  // Megatron-FSDP: every micro-batch gathers and reduce-scatters
  const std::string sharded = names(resolve_plan(megatron, m, c, "test"));
  CHECK(count(sharded, "param all-gather (bwd") > 0);
  CHECK(count(sharded, "gradient reduce-scatter") >= 2 * 8);
}
