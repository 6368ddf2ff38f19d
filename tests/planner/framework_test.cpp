// The framework that runs a plan: what it can run, the defaults it sets on the keys a plan leaves out, its memory
// accounting, and the search limited to what it runs.
#include <doctest/doctest.h>

#include "core/error.hpp"
#include "planner/framework.hpp"
#include "planner/memory_model.hpp"
#include "planner/parameters.hpp"
#include "planner/search.hpp"
#include "planner/search_space.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

Plan parse(const std::string& yaml) {
  return plan_from_fields(core::Fields(core::parse_yaml_text(yaml, "plan.yaml"), "plan.yaml"));
}

MemoryUse memory_of(const std::string& yaml, const std::string& model, const std::string& cluster) {
  const auto m = models::load_model(model);
  const auto c = topologies::load_cluster(cluster);
  const Scenario scenario(m, c);
  CostCache cache(scenario);
  return memory_use(cache, resolve_plan(parse(yaml), m, c, "plan.yaml"));
}

}  // namespace

TEST_CASE("framework: each one's defaults fill the keys a plan leaves out; a stated key wins") {
  const Plan megatron = parse("{global_batch_size: 8}");
  CHECK(megatron.framework == Framework::megatron);
  CHECK(megatron.attention_backend == costs::AttentionKernel::cudnn);
  CHECK(megatron.execution == costs::Execution::fused);
  CHECK(megatron.fp8_recipe == costs::Fp8Recipe::delayed);
  const Plan titan = parse("{global_batch_size: 8, framework: torchtitan, recompute: selective}");  // alias of fsdp
  CHECK(titan.framework == Framework::fsdp);
  CHECK(titan.attention_backend == costs::AttentionKernel::flash2);  // PyTorch SDPA
  CHECK(titan.execution == costs::Execution::eager);                 // no torch.compile unless stated
  CHECK(titan.fp8_recipe == costs::Fp8Recipe::tensorwise);           // torchao
  CHECK(titan.recompute == models::Recompute::op_selective);         // torchtitan's selective is per-op
  const Plan stated = parse("{global_batch_size: 8, framework: fsdp, execution: fused, attention_backend: cudnn}");
  CHECK(stated.execution == costs::Execution::fused);
  CHECK(stated.attention_backend == costs::AttentionKernel::cudnn);
  const Plan ds = parse("{global_batch_size: 8, framework: deepspeed, recompute: selective}");
  CHECK(ds.attention_backend == costs::AttentionKernel::flash2);  // Megatron-DeepSpeed's --use-flash-attn-v2
  CHECK(ds.recompute == models::Recompute::selective);           // Megatron's attention-only recomputation
}

TEST_CASE("framework: a plan that names none is megatron's, or PyTorch FSDP's when it shards fully (zero 3)") {
  CHECK(parse("{global_batch_size: 8, zero: 1}").framework == Framework::megatron);
  const Plan sharded = parse("{global_batch_size: 8, zero: 3, recompute: selective}");
  CHECK(sharded.framework == Framework::fsdp);
  CHECK(sharded.execution == costs::Execution::eager);  // and fsdp's defaults with it
  CHECK(sharded.recompute == models::Recompute::op_selective);
  CHECK(parse("{global_batch_size: 8, zero: 3, framework: megatron}").framework == Framework::megatron);
  // The search alike: pinned to ZeRO-3 it runs under fsdp, otherwise under megatron (trying zero 0 and 1).
  SearchSpace pinned;
  pinned.set(PlanKey::zero, 3);
  pinned.apply_framework_defaults();
  CHECK(pinned.fixed.framework == Framework::fsdp);
  CHECK(pinned.axis(PlanKey::zero).values == std::vector<std::int64_t>{3});
  SearchSpace free;
  free.apply_framework_defaults();
  CHECK(free.fixed.framework == Framework::megatron);
  CHECK(free.axis(PlanKey::zero).values == std::vector<std::int64_t>{0, 1});
  SearchSpace stated;
  stated.set(PlanKey::zero, 3);
  stated.set(PlanKey::framework, static_cast<std::int64_t>(Framework::deepspeed));
  stated.apply_framework_defaults();
  CHECK(stated.fixed.framework == Framework::deepspeed);
}

TEST_CASE("framework: megatron runs its ZeRO-3 as Megatron-FSDP but has no ZeRO-2; fsdp has no ZeRO-1") {
  const auto model = models::load_model("llama3-8b");
  const auto cluster = topologies::load_cluster("dgx-h100:1");
  Plan fsdp8 = parse("{dp: 8, global_batch_size: 16, zero: 3, framework: megatron}");
  CHECK(check_plan(fsdp8, model, cluster) == Rule::ok);
  Plan zero2 = parse("{dp: 8, global_batch_size: 16, zero: 2}");
  CHECK(check_plan(zero2, model, cluster) == Rule::framework_zero);
  zero2.framework = Framework::fsdp;
  CHECK(check_plan(zero2, model, cluster) == Rule::ok);
  Plan zero1 = parse("{dp: 8, global_batch_size: 16, zero: 1, framework: fsdp}");
  CHECK(check_plan(zero1, model, cluster) == Rule::framework_zero);
  // simulate's error names the key and the framework.
  try {
    (void)resolve_plan(parse("{dp: 8, global_batch_size: 16, zero: 2}"), model, cluster, "plan.yaml");
    FAIL("megatron accepted ZeRO-2");
  } catch (const core::InputError& e) {
    CHECK(e.field() == "zero");
    CHECK(std::string(e.what()).find("megatron") != std::string::npos);
  }
  // DeepSpeed: ZeRO-1 with a pipeline, not ZeRO-2.
  Plan ds = parse("{pp: 2, dp: 4, global_batch_size: 16, zero: 1, framework: deepspeed}");
  CHECK(check_plan(ds, model, cluster) == Rule::ok);
  ds.zero = 2;
  CHECK(check_plan(ds, model, cluster) == Rule::framework_zero_with_pp);
}

TEST_CASE("framework: bytes per parameter as each framework holds them") {
  using topologies::Precision;
  // Megatron-LM: 16-bit copy 2, fp32 main gradient 4, fp32 master + two moments 12; Adam's traffic 2*4 + 2*12 + 2
  // (the 16-bit copy written), FP8 adds reading it and writing FP8 + transpose (2 * 2).
  const ParameterBytes te = parameter_bytes(Precision::bf16, Framework::megatron);
  CHECK(te.resident_weight == 2);
  CHECK(te.gradient == 4);
  CHECK(te.optimizer == 12);
  CHECK(te.optimizer_traffic == 34);
  CHECK(parameter_bytes(Precision::fp8, Framework::megatron).optimizer_traffic == 38);
  CHECK(parameter_bytes(Precision::bf16, Framework::deepspeed).optimizer == 12);
  // FSDP2: the fp32 parameter is the master (4), moments 8, fp32 gradients 4, gathered as 16 bits; Adam reads the
  // gradient twice and reads and writes parameter and moments: 2*4 + 2*(4 + 8) = 32, FP8 or not (torchao casts at use).
  const ParameterBytes fsdp = parameter_bytes(Precision::bf16, Framework::fsdp);
  CHECK(fsdp.weight == 2);
  CHECK(fsdp.resident_weight == 4);
  CHECK(fsdp.optimizer == 8);
  CHECK(fsdp.optimizer_traffic == 32);
  CHECK(parameter_bytes(Precision::fp8, Framework::fsdp).optimizer_traffic == 32);
}

TEST_CASE("state dtypes: bf16 gradients and a 16-bit optimizer halve what they hold and move") {
  using topologies::Precision;
  // NeMo's distributed_fused_adam with grad_sync_dtype bf16 and dtype bf16 (the Nemotron-4 340B benchmark config):
  // 16-bit copy 2, bf16 gradient 2, bf16 master + two bf16 moments 6; Adam's traffic 2*2 + 2*6 + 2 = 18.
  const Plan nemo = parse("{global_batch_size: 8, grad_dtype: bf16, optimizer_dtype: bf16}");
  const ParameterBytes b = parameter_bytes(nemo);
  CHECK(b.gradient == 2);
  CHECK(b.optimizer == 6);
  CHECK(b.optimizer_traffic == 18);
  // bf16 gradients alone (Megatron --grad-reduce-in-bf16): the optimizer keeps its fp32 states.
  const ParameterBytes g = parameter_bytes(parse("{global_batch_size: 8, grad_dtype: bf16}"));
  CHECK(g.gradient == 2);
  CHECK(g.optimizer == 12);
  // fp16 training keeps fp16 gradients whatever grad_dtype says; bf16 ones need bf16 or fp8 training.
  CHECK(parameter_bytes(Precision::fp16).gradient == 2);
  const auto model = models::load_model("llama3-8b");
  const auto cluster = topologies::load_cluster("dgx-h100:1");
  Plan fp16 = parse("{global_batch_size: 8, precision: fp16, grad_dtype: bf16}");
  CHECK(check_plan(fp16, model, cluster) == Rule::grad_dtype_precision);
  CHECK(explain(Rule::grad_dtype_precision, fp16, model, cluster).field == "grad_dtype");
  // 16-bit optimizer states are NeMo's and Megatron's; torchtitan and DeepSpeed keep fp32 ones.
  Plan fsdp = parse("{global_batch_size: 8, zero: 3, framework: fsdp, optimizer_dtype: bf16}");
  CHECK(check_plan(fsdp, model, cluster) == Rule::framework_optimizer_dtype);
  CHECK(explain(Rule::framework_optimizer_dtype, fsdp, model, cluster).field == "optimizer_dtype");
  Plan megatron = parse("{global_batch_size: 8, zero: 1, optimizer_dtype: bf16}");
  CHECK(check_plan(megatron, model, cluster) == Rule::ok);
  // The memory model holds half the gradient and optimizer bytes.
  const MemoryUse full = memory_of("{tp: 8, global_batch_size: 8, zero: 1}", "llama3-8b", "dgx-h100:1");
  const MemoryUse half = memory_of("{tp: 8, global_batch_size: 8, zero: 1, grad_dtype: bf16, optimizer_dtype: bf16}",
                                   "llama3-8b", "dgx-h100:1");
  CHECK(half.gradients.value() == doctest::Approx(full.gradients.value() / 2));
  CHECK(half.optimizer.value() == doctest::Approx(full.optimizer.value() / 2));
  CHECK(half.weights.value() == doctest::Approx(full.weights.value()));
}

TEST_CASE("framework: memory accounting of the sharded states differs as each framework shards them") {
  // Llama 3 8B on 8 GPUs, no pipeline: every rank holds all N parameters before sharding.
  const auto model = models::load_model("llama3-8b");
  const double n = chunk_parameters(model, parse("{global_batch_size: 8}"), 0);
  const std::string base = "{dp: 8, global_batch_size: 8, recompute: full, ";
  // Megatron's distributed optimizer (ZeRO-1): full-size gradient buffers, optimizer states / 8.
  const MemoryUse z1 = memory_of(base + "zero: 1}", "llama3-8b", "dgx-h100:1");
  CHECK(z1.weights.value() == doctest::Approx(2 * n));
  CHECK(z1.gradients.value() == doctest::Approx(4 * n));
  CHECK(z1.optimizer.value() == doctest::Approx(12 * n / 8));
  // DeepSpeed ZeRO-2: gradients / 8, the 16-bit weights whole.
  const MemoryUse ds2 = memory_of(base + "zero: 2, framework: deepspeed}", "llama3-8b", "dgx-h100:1");
  CHECK(ds2.weights.value() == doctest::Approx(2 * n));
  CHECK(ds2.gradients.value() == doctest::Approx(4 * n / 8));
  // FSDP2 SHARD_GRAD_OP: the fp32 shard plus the gathered 16-bit weights kept to the backward; moments / 8.
  const MemoryUse f2 = memory_of(base + "zero: 2, framework: fsdp}", "llama3-8b", "dgx-h100:1");
  CHECK(f2.weights.value() == doctest::Approx(4 * n / 8 + 2 * n));
  CHECK(f2.gradients.value() == doctest::Approx(4 * n / 8));
  CHECK(f2.optimizer.value() == doctest::Approx(8 * n / 8));
  // FULL_SHARD: 16 bytes a parameter, all / 8 (Megatron-FSDP's ZeRO-3: 2 + 4 + 12 = 18).
  const MemoryUse f3 = memory_of(base + "zero: 3, framework: fsdp}", "llama3-8b", "dgx-h100:1");
  CHECK((f3.weights + f3.gradients + f3.optimizer).value() == doctest::Approx(16 * n / 8));
  const MemoryUse m3 = memory_of(base + "zero: 3, framework: megatron}", "llama3-8b", "dgx-h100:1");
  CHECK((m3.weights + m3.gradients + m3.optimizer).value() == doctest::Approx(18 * n / 8));
}

TEST_CASE("FSDP with a pipeline holds each stage unsharded: 16-bit weights and fp32 gradients whole, states / dp") {
  // Llama 3 8B, pp 2 over dp 4 (8 GPUs): torchtitan turns resharding after forward off under pipeline parallelism
  // and reduce-scatters the accumulated gradients once per step. Stage 1 (16 layers and the LM head) holds its N
  // parameters as the sharded fp32 master (4 N / 4) beside the gathered 16-bit weights (2 N), fp32 gradients whole
  // (4 N) and Adam's two moments / 4; without the pipeline FULL_SHARD divides them all.
  const auto model = models::load_model("llama3-8b");
  const std::string plan = "{pp: 2, dp: 4, global_batch_size: 8, recompute: full, zero: 3, framework: fsdp}";
  const double n = chunk_parameters(model, parse(plan), 1);
  const auto m = models::load_model("llama3-8b");
  const auto c = topologies::load_cluster("dgx-h100:1");
  CostCache cache{Scenario(m, c)};
  const Plan resolved = resolve_plan(parse(plan), m, c, "plan.yaml");
  CHECK(resolved.fsdp_holds_stage_unsharded());
  const MemoryUse u = stage_memory_use(cache, resolved, 1);
  CHECK(u.weights.value() == doctest::Approx(4 * n / 4 + 2 * n));
  CHECK(u.gradients.value() == doctest::Approx(4 * n));
  CHECK(u.optimizer.value() == doctest::Approx(8 * n / 4));
  // Megatron-FSDP has no such mode; nor does FSDP without a pipeline.
  CHECK_FALSE(resolve_plan(parse("{pp: 2, dp: 4, global_batch_size: 8, zero: 1}"), m, c, "p").fsdp_holds_stage_unsharded());
  CHECK_FALSE(resolve_plan(parse("{dp: 8, global_batch_size: 8, zero: 3, framework: fsdp}"), m, c, "p")
                  .fsdp_holds_stage_unsharded());
}

TEST_CASE("torchtitan's loss on fp32 logits: 8 bytes a logit at its peak beyond the kept log-softmax") {
  // Llama 3 8B, data parallel over 8 GPUs, micro-batch 2 x 8192 tokens: the 128,256-word logits (16,384 x 128,256) exist as 16-bit
  // logits and their fp32 copy in the forward, the fp32 gradient and the one passed back in the backward. Megatron's
  // vocab-parallel cross-entropy works in place. Same plan otherwise (no sharding, same recomputation).
  const std::string plan = "{dp: 8, micro_batch_size: 2, global_batch_size: 16, recompute: full, zero: 0, seq_length: 8192";
  const MemoryUse fsdp = memory_of(plan + ", framework: fsdp}", "llama3-8b", "dgx-h100:1");
  const MemoryUse megatron = memory_of(plan + "}", "llama3-8b", "dgx-h100:1");
  CHECK(fsdp.activations.value() - megatron.activations.value() == doctest::Approx(8.0 * 16384 * 128256));
}

TEST_CASE("fp8_param_gather: the layers' weights gathered and held in FP8, the embedding and LM head 16-bit") {
  using topologies::Precision;
  // Megatron --fp8-param-gather keeps the compute weight in FP8 (1 byte) and gathers it so; FSDP keeps its fp32
  // master (4) and gathers FP8 (1); without FP8 the key changes nothing.
  const ParameterBytes te = parameter_bytes(Precision::fp8, Framework::megatron, true);
  CHECK(te.gathered_layer_weight == 1);
  CHECK(te.resident_layer_weight == 1);
  CHECK(te.resident_weight == 2);
  const ParameterBytes fsdp = parameter_bytes(Precision::fp8, Framework::fsdp, true);
  CHECK(fsdp.gathered_layer_weight == 1);
  CHECK(fsdp.resident_layer_weight == 4);
  CHECK(parameter_bytes(Precision::fp8, Framework::fsdp, false).gathered_layer_weight == 2);
  CHECK(parameter_bytes(Precision::bf16, Framework::megatron, true).gathered_layer_weight == 2);

  // Llama 3 8B on 8 GPUs, ZeRO-1: the resident 16-bit weights become 1 byte a layer parameter; the embedding and
  // the LM head (2 x 128256 x 4096 parameters) keep 2 bytes.
  const auto model = models::load_model("llama3-8b");
  const double n = chunk_parameters(model, parse("{global_batch_size: 8}"), 0);
  const double ends = 2.0 * 128256 * 4096;
  const std::string base = "{dp: 8, global_batch_size: 8, recompute: full, precision: fp8, zero: 1";
  const MemoryUse plain = memory_of(base + "}", "llama3-8b", "dgx-h100:1");
  const MemoryUse fp8 = memory_of(base + ", fp8_param_gather: true}", "llama3-8b", "dgx-h100:1");
  CHECK(plain.weights.value() == doctest::Approx(2 * n));
  CHECK(fp8.weights.value() == doctest::Approx((n - ends) * 1 + ends * 2));
  // FSDP (tensorwise), ZeRO-3: the gathered unit running and the prefetched one in FP8 beside the unit's fp32
  // gradients: the largest unit is the LM head (525M parameters, 16-bit), 2 * 2 + 4 = 8 bytes each, either way.
  const std::string titan = "{dp: 8, global_batch_size: 8, recompute: full, precision: fp8, zero: 3, framework: fsdp, "
                            "fp8_recipe: tensorwise";
  const MemoryUse t0 = memory_of(titan + "}", "llama3-8b", "dgx-h100:1");
  const MemoryUse t1 = memory_of(titan + ", fp8_param_gather: true}", "llama3-8b", "dgx-h100:1");
  CHECK(t1.weights.value() == doctest::Approx(t0.weights.value()));  // the fp32 shard
  CHECK(t1.buffers.value() == doctest::Approx(t0.buffers.value()));
  CHECK(t0.buffers.value() == doctest::Approx(128256.0 * 4096 * 8));
  // torchao gathers FP8 only with tensorwise scaling; DeepSpeed not at all.
  const auto cluster = topologies::load_cluster("dgx-h100:1");
  CHECK_THROWS_AS((void)resolve_plan(parse(titan + ", fp8_recipe: rowwise, fp8_param_gather: true}"), model, cluster,
                                     "plan.yaml"),
                  core::InputError);
}

TEST_CASE("framework: the search returns only plans the framework runs, the others counted as rejected") {
  const auto model = models::load_model("llama3-8b");
  const auto cluster = topologies::load_cluster("dgx-h100:2");
  SearchOptions options;
  options.top_k = 200;
  options.threads = 2;
  SearchSpace megatron;
  megatron.fixed.global_batch_size = 64;
  megatron.fixed.seq_length = 4096;
  const auto m = search_plans(Scenario(model, cluster), megatron, options);
  REQUIRE_FALSE(m.plans.empty());
  for (const auto& r : m.plans) CHECK(r.plan.zero <= 1);  // never ZeRO-2/3 unless asked for

  SearchSpace ds = megatron;
  ds.set(PlanKey::framework, static_cast<std::int64_t>(Framework::deepspeed));
  ds.constrain(PlanKey::pp, IntChoice{{1, 2, 4}});
  const auto d = search_plans(Scenario(model, cluster), ds, options);
  REQUIRE_FALSE(d.plans.empty());
  bool some_zero3 = false;
  for (const auto& r : d.plans) {
    CHECK(r.plan.vpp == 1);
    CHECK(r.plan.cp == 1);
    CHECK_FALSE((r.plan.zero >= 2 && r.plan.pp > 1));
    some_zero3 = some_zero3 || r.plan.zero == 3;
  }
  CHECK(some_zero3);
  CHECK(d.rejected.at("ZeRO-2/3 with a pipeline (framework)") > 0);
  CHECK(d.rejected.at("interleaving the framework cannot run") > 0);

  SearchSpace fsdp = megatron;
  fsdp.set(PlanKey::framework, static_cast<std::int64_t>(Framework::fsdp));
  fsdp.constrain(PlanKey::zero, parse_field_domain(plan_field(PlanKey::zero), "0..3", "test"));
  const auto f = search_plans(Scenario(model, cluster), fsdp, options);
  REQUIRE_FALSE(f.plans.empty());
  for (const auto& r : f.plans) {
    CHECK(r.plan.zero != 1);
    CHECK(r.plan.recompute != models::Recompute::selective);  // selective is per-op here
    CHECK(r.plan.execution == costs::Execution::eager);
  }
  CHECK(f.rejected.at("ZeRO stage the framework cannot run") > 0);

  // Under a pipeline FSDP runs zero 2 and 3 alike (each stage held unsharded): the search lists the plan once, as
  // zero 2; pinned to zero 3 it is still answered.
  bool staged_zero2 = false;
  for (const auto& r : f.plans) {
    CHECK_FALSE((r.plan.zero == 3 && r.plan.pp > 1));
    staged_zero2 = staged_zero2 || (r.plan.zero == 2 && r.plan.pp > 1);
  }
  CHECK(staged_zero2);
  SearchSpace fsdp3 = fsdp;
  fsdp3.set(PlanKey::zero, 3);
  fsdp3.constrain(PlanKey::pp, IntChoice{{2}});
  const auto f3 = search_plans(Scenario(model, cluster), fsdp3, options);
  REQUIRE_FALSE(f3.plans.empty());
  for (const auto& r : f3.plans) CHECK((r.plan.zero == 3 && r.plan.pp == 2));
}
