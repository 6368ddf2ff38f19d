#include "planner/plan_fields.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <type_traits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "planner/framework.hpp"

namespace hpsim::planner {

namespace {

constexpr std::string_view kBool[] = {"false", "true"};
constexpr std::string_view kPrecision[] = {"fp32", "fp16", "bf16", "fp8"};  // topologies::Precision order
constexpr std::string_view kSchedule[] = {"gpipe", "1f1b"};                 // Schedule order

// A field's value as its integer code, and back (integers as they are, booleans 0/1, enums by their order).
template <auto member>
std::int64_t get(const Plan& p) {
  return static_cast<std::int64_t>(p.*member);
}
template <auto member>
void set(Plan& p, std::int64_t v) {
  p.*member = static_cast<std::remove_cvref_t<decltype(p.*member)>>(v);
}

constexpr std::int64_t kMaxInt = std::numeric_limits<std::int32_t>::max();

// A real-valued field as its code in thousandths, and back.
template <auto member>
std::int64_t get_number(const Plan& p) {
  return std::llround(p.*member * kNumberScale);
}
template <auto member>
void set_number(Plan& p, std::int64_t v) {
  p.*member = static_cast<double>(v) / kNumberScale;
}

PlanField number(PlanKey id, std::string_view key, double min, double max, double def, std::string_view def_text,
                 std::string_view help, std::int64_t (*get)(const Plan&), void (*set)(Plan&, std::int64_t)) {
  PlanField f{id, key, {}, FieldType::number, {}, std::llround(min * kNumberScale), std::llround(max * kNumberScale),
              std::llround(def * kNumberScale), false, def_text, false, {}, {}, help, get, set};
  return f;
}

PlanField integer(PlanKey id, std::string_view key, std::int64_t min, std::int64_t def,
                  std::string_view def_text, bool searched, std::string_view help,
                  std::int64_t (*get)(const Plan&), void (*set)(Plan&, std::int64_t)) {
  PlanField f{id, key, {}, FieldType::integer, {}, min, kMaxInt, def, false, def_text, searched, {}, {}, help,
              get, set};
  return f;
}

PlanField boolean(PlanKey id, std::string_view key, bool def, bool searched, std::string_view help,
                  std::int64_t (*get)(const Plan&), void (*set)(Plan&, std::int64_t)) {
  PlanField f{id, key, {}, FieldType::boolean, kBool, 0, 1, def ? 1 : 0, false, kBool[def ? 1 : 0], searched, {},
              {}, help, get, set};
  return f;
}

PlanField choice(PlanKey id, std::string_view key, std::span<const std::string_view> names, std::int64_t def,
                 bool searched, std::string_view help, std::int64_t (*get)(const Plan&),
                 void (*set)(Plan&, std::int64_t)) {
  PlanField f{id, key, {}, FieldType::choice, names, 0, static_cast<std::int64_t>(names.size()) - 1, def, false,
              names[static_cast<std::size_t>(def)], searched, {}, {}, help, get, set};
  return f;
}

std::array<PlanField, kPlanKeyCount> make_table() {
  using K = PlanKey;
  std::array<PlanField, kPlanKeyCount> t = {
      integer(K::tp, "tp", 1, 1, "1", true, "tensor-parallel size", &get<&Plan::tp>, &set<&Plan::tp>),
      integer(K::pp, "pp", 1, 1, "1", true, "pipeline-parallel size", &get<&Plan::pp>, &set<&Plan::pp>),
      integer(K::dp, "dp", 1, 0, "derived", true,
              "data-parallel size (derived from GPUs / (tp*pp*cp) when omitted)", &get<&Plan::dp>, &set<&Plan::dp>),
      integer(K::cp, "cp", 1, 1, "1", true, "context-parallel size", &get<&Plan::cp>, &set<&Plan::cp>),
      integer(K::ep, "ep", 1, 1, "1", true, "expert-parallel size (MoE models)", &get<&Plan::ep>, &set<&Plan::ep>),
      integer(K::vpp, "vpp", 1, 1, "1", true,
              "virtual pipeline stages per rank (interleaved 1F1B when > 1)", &get<&Plan::vpp>, &set<&Plan::vpp>),
      boolean(K::sp, "sp", false, true, "sequence parallelism with TP", &get<&Plan::sp>, &set<&Plan::sp>),
      integer(K::micro_batch_size, "micro_batch_size", 1, 1, "1", true,
              "sequences per micro-batch", &get<&Plan::micro_batch_size>, &set<&Plan::micro_batch_size>),
      integer(K::global_batch_size, "global_batch_size", 1, 0, "required", false,
              "sequences per optimizer step", &get<&Plan::global_batch_size>, &set<&Plan::global_batch_size>),
      integer(K::seq_length, "seq_length", 1, 0, "the model's", false, "tokens per sequence",
              &get<&Plan::seq_length>, &set<&Plan::seq_length>),
      choice(K::recompute, "recompute", kRecomputeNames, 0, true, "activation recomputation",
             &get<&Plan::recompute>, &set<&Plan::recompute>),
      integer(K::zero, "zero", 0, 0, "0", true,
              "0, 1 (distributed optimizer), 2, 3 (FSDP; framework fsdp with pp > 1 keeps each stage unsharded "
              "for the step, as torchtitan does)",
              &get<&Plan::zero>, &set<&Plan::zero>),
      choice(K::precision, "precision", kPrecision, 2, false, "mixed precision (fp32 master weights)",
             &get<&Plan::precision>, &set<&Plan::precision>),
      choice(K::schedule, "schedule", kSchedule, 1, true, "pipeline schedule (1f1b is interleaved when vpp > 1)",
             &get<&Plan::schedule>, &set<&Plan::schedule>),
      boolean(K::tp_comm_overlap, "tp_comm_overlap", false, false,
              "TP communication overlapped with GEMMs (Megatron --tp-comm-overlap; needs sp with tp > 1)",
              &get<&Plan::tp_comm_overlap>, &set<&Plan::tp_comm_overlap>),
      boolean(K::cp_comm_overlap, "cp_comm_overlap", true, false,
              "CP key/value exchange hidden behind the attention core (ring attention); false: exposed",
              &get<&Plan::cp_comm_overlap>, &set<&Plan::cp_comm_overlap>),
      boolean(K::overlap_grad_reduce, "overlap_grad_reduce", true, false,
              "DP gradient reduction overlapped with backward", &get<&Plan::overlap_grad_reduce>, &set<&Plan::overlap_grad_reduce>),
      boolean(K::overlap_param_gather, "overlap_param_gather", true, false,
              "ZeRO parameter all-gather overlapped with forward", &get<&Plan::overlap_param_gather>, &set<&Plan::overlap_param_gather>),
      boolean(K::flash_attention, "flash_attention", true, true,
              "fused/flash attention (every current framework); false: Megatron's unfused core, as in 2021-22 runs",
              &get<&Plan::flash_attention>, &set<&Plan::flash_attention>),
      integer(K::parameter_servers, "parameter_servers", 0, 0, "0", true,
              "what-if: gradients pushed to and pulled from this many servers per data-parallel group instead of "
              "an all-reduce (0: all-reduce)",
              &get<&Plan::parameter_servers>, &set<&Plan::parameter_servers>),
      // Uneven pipeline splits, as Megatron-LM names them (megatron/training/arguments.py).
      integer(K::decoder_first_pipeline_num_layers, "decoder_first_pipeline_num_layers", 0, 0, "0 (not given)", false,
              "layers on the first pipeline stage (a multiple of vpp), the rest even over the other stages; with no "
              "split key and pp*vpp not dividing the layers, hpsim picks the balanced split Megatron allows",
              &get<&Plan::decoder_first_pipeline_num_layers>, &set<&Plan::decoder_first_pipeline_num_layers>),
      integer(K::decoder_last_pipeline_num_layers, "decoder_last_pipeline_num_layers", 0, 0, "0 (not given)", false,
              "layers on the last pipeline stage (a multiple of vpp), the rest even over the other stages",
              &get<&Plan::decoder_last_pipeline_num_layers>, &set<&Plan::decoder_last_pipeline_num_layers>),
      boolean(K::account_for_embedding_in_pipeline_split, "account_for_embedding_in_pipeline_split", false, false,
              "the embedding counts as one layer slot of the first virtual stage when splitting the layers",
              &get<&Plan::account_for_embedding_in_pipeline_split>,
              &set<&Plan::account_for_embedding_in_pipeline_split>),
      boolean(K::account_for_loss_in_pipeline_split, "account_for_loss_in_pipeline_split", false, false,
              "the loss counts as one layer slot of the last virtual stage when splitting the layers",
              &get<&Plan::account_for_loss_in_pipeline_split>, &set<&Plan::account_for_loss_in_pipeline_split>),
      choice(K::fp8_recipe, "fp8_recipe", costs::kFp8RecipeNames, 0, false,
             "FP8 scaling (with precision fp8): delayed (Transformer Engine's default), tensorwise (dynamic, "
             "torchao), rowwise, blockwise",
             &get<&Plan::fp8_recipe>, &set<&Plan::fp8_recipe>),
      choice(K::attention_backend, "attention_backend", costs::kAttentionKernelNames, 0, false,
             "fused attention kernel: cudnn (Transformer Engine's default on Hopper), flash2 (PyTorch SDPA's flash "
             "backend), flash3",
             &get<&Plan::attention_backend>, &set<&Plan::attention_backend>),
      choice(K::execution, "execution", costs::kExecutionNames, 0, false,
             "how operators run: fused (Transformer Engine / Megatron fusions, or torch.compile), eager (PyTorch op "
             "by op: element-wise chains unfused), cuda_graphs (fused, replayed without host issue time)",
             &get<&Plan::execution>, &set<&Plan::execution>),
      choice(K::framework, "framework", kFrameworkNames, 0, false,
             "the framework that will run the plan (megatron, deepspeed, fsdp; torchtitan is fsdp): limits the "
             "plans to what it runs, sets the defaults of attention_backend, execution, fp8_recipe and the meaning "
             "of recompute selective, its memory accounting and --emit; unstated: fsdp when zero is 3, megatron otherwise",
             &get<&Plan::framework>, &set<&Plan::framework>),
      // MoE, as Megatron-Core names its arguments (megatron/training/arguments.py, _add_moe_args).
      integer(K::expert_tensor_parallel_size, "expert_tensor_parallel_size", 0, 0, "tp", true,
              "TP of the experts (MoE), when it differs from attention's (0: tp); expert_tensor_parallel_size*ep "
              "must divide tp*cp*dp",
              &get<&Plan::expert_tensor_parallel_size>, &set<&Plan::expert_tensor_parallel_size>),
      number(K::moe_expert_capacity_factor, "moe_expert_capacity_factor", 0, 1000, 0, "0 (dropless)",
             "MoE: tokens an expert takes over its balanced share; the rest are dropped (0: dropless)",
             &get_number<&Plan::moe_expert_capacity_factor>, &set_number<&Plan::moe_expert_capacity_factor>),
      boolean(K::moe_pad_expert_input_to_capacity, "moe_pad_expert_input_to_capacity", false, false,
              "MoE with a capacity factor: every expert computes its full capacity (inputs padded)",
              &get<&Plan::moe_pad_expert_input_to_capacity>, &set<&Plan::moe_pad_expert_input_to_capacity>),
      boolean(K::moe_grouped_gemm, "moe_grouped_gemm", true, false,
              "MoE: one grouped GEMM kernel for a rank's experts; false: one GEMM per expert",
              &get<&Plan::moe_grouped_gemm>, &set<&Plan::moe_grouped_gemm>),
      choice(K::moe_token_dispatcher, "moe_token_dispatcher", kMoeDispatcherNames, 0, false,
             "MoE token dispatch: alltoall (over the expert-parallel group) or allgather (every token over the "
             "expert-parallel x expert-TP group)",
             &get<&Plan::moe_token_dispatcher>, &set<&Plan::moe_token_dispatcher>),
      number(K::moe_load_imbalance, "moe_load_imbalance", 1, 1000, 1, "1",
             "what-if: the most loaded expert's tokens over the mean (the slowest expert rank decides; a capacity "
             "factor bounds it)",
             &get_number<&Plan::moe_load_imbalance>, &set_number<&Plan::moe_load_imbalance>),
      boolean(K::fp8_param_gather, "fp8_param_gather", false, false,
              "with precision fp8: ZeRO/FSDP gathers the layers' linear weights in FP8 (half the bytes of 16-bit) "
              "and holds them so (Megatron --fp8-param-gather; torchtitan enable_fsdp_float8_all_gather, tensorwise "
              "scaling only)",
              &get<&Plan::fp8_param_gather>, &set<&Plan::fp8_param_gather>),
      choice(K::grad_dtype, "grad_dtype", kStateDtypeNames, 0, false,
             "dtype gradients are accumulated and reduced in: fp32 (Megatron-LM's with bf16), bf16 (Megatron "
             "--grad-reduce-in-bf16, NeMo grad_sync_dtype: half the bytes held and sent); fp16 training keeps fp16",
             &get<&Plan::grad_dtype>, &set<&Plan::grad_dtype>),
      choice(K::optimizer_dtype, "optimizer_dtype", kStateDtypeNames, 0, false,
             "dtype of the optimizer's master weights and Adam moments: fp32, or bf16 (NeMo distributed_fused_adam "
             "dtype bf16; Megatron's precision-aware optimizer with 16-bit master weights and moments)",
             &get<&Plan::optimizer_dtype>, &set<&Plan::optimizer_dtype>),
  };
  // Every flag is its key with dashes: micro_batch_size -> --micro-batch-size.
  static std::array<std::string, kPlanKeyCount> flags;
  for (auto& f : t) {
    auto& flag = flags[static_cast<std::size_t>(f.id)];
    flag = "--" + std::string(f.key);
    std::replace(flag.begin(), flag.end(), '_', '-');
    f.flag = flag;
  }
  auto at = [&](K k) -> PlanField& { return t[static_cast<std::size_t>(k)]; };
  at(K::global_batch_size).required = true;
  at(K::zero).max = 3;
  at(K::seq_length).max = std::int64_t{1} << 24;  // the model file's bound (models/model_fields.cpp): no overflow
  // The planner's domain when a searched field is not constrained: what Megatron-era runs use.
  const std::pair<K, std::string_view> search_defaults[] = {
      {K::zero, "0..3"}, {K::schedule, "1f1b"}, {K::recompute, "none,selective,full"},
      {K::flash_attention, "true"}, {K::parameter_servers, "0"}};
  for (const auto& [k, domain] : search_defaults) at(k).search_default = domain;
  // Megatron-LM's argument for the fields it takes one to one.
  const std::pair<K, std::string_view> megatron[] = {
      {K::tp, "--tensor-model-parallel-size"}, {K::pp, "--pipeline-model-parallel-size"},
      {K::cp, "--context-parallel-size"},      {K::sp, "--sequence-parallel"},
      {K::micro_batch_size, "--micro-batch-size"}, {K::global_batch_size, "--global-batch-size"},
      {K::seq_length, "--seq-length"},          {K::tp_comm_overlap, "--tp-comm-overlap"},
      {K::flash_attention, "--use-flash-attn"},
      {K::account_for_embedding_in_pipeline_split, "--account-for-embedding-in-pipeline-split"},
      {K::account_for_loss_in_pipeline_split, "--account-for-loss-in-pipeline-split"},
      {K::fp8_param_gather, "--fp8-param-gather"}};
  // The MoE keys are emitted by the emitter, for MoE models only.
  for (const auto& [k, flag] : megatron) at(k).megatron_flag = flag;
  for (std::size_t i = 0; i < t.size(); ++i)
    if (static_cast<std::size_t>(t[i].id) != i) throw std::logic_error("plan field table out of PlanKey order");
  return t;
}


std::string join_names(std::span<const std::string_view> names, std::string_view last) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i)
    s += std::string(i == 0 ? "" : i + 1 == names.size() ? last : ", ") + std::string(names[i]);
  return s;
}

}  // namespace

const std::array<PlanField, kPlanKeyCount>& plan_field_table() {
  static const auto table = make_table();
  return table;
}

const PlanListField& pipeline_layers_field() {
  static constexpr PlanListField field{
      "pipeline_layers", "a list of positive integers, one per pipeline stage, each a multiple of vpp",
      "not given: even, Megatron-LM's split keys, or chosen",
      "decoder layers of each pipeline stage (first to last; each of its virtual stages holds an equal share); on a "
      "mixed cluster the planner chooses them by each stage's speed (docs/mixed_clusters.md); excludes Megatron-LM's "
      "split keys"};
  return field;
}

std::vector<std::int64_t> parse_pipeline_layers(const YAML::Node& node, const std::string& where) {
  const std::string key(pipeline_layers_field().key);
  const auto fail = [&] {
    throw core::InputError(where, key, "expected " + std::string(pipeline_layers_field().values));
  };
  if (!node.IsSequence() || node.size() == 0) fail();
  std::vector<std::int64_t> out;
  for (const auto& v : node) {
    if (!v.IsScalar()) fail();
    const PlanField& pp = plan_field(PlanKey::pp);  // a layer count takes the integers a stage count does
    try {
      out.push_back(parse_field_value(pp, v.Scalar(), where));
    } catch (const core::InputError&) {
      fail();
    }
  }
  return out;
}

const PlanField* find_plan_field(std::string_view key_or_flag) {
  for (const auto& f : plan_field_table())
    if (f.key == key_or_flag || f.flag == key_or_flag) return &f;
  return nullptr;
}

std::string field_expectation(const PlanField& f) {
  switch (f.type) {
    case FieldType::boolean: return "true or false";
    case FieldType::choice: return join_names(f.choices, " or ");
    case FieldType::integer:
      if (f.max <= 3) return fmt::format("an integer from {} to {}", f.min, f.max);
      return std::string(f.min == 0 ? "a non-negative integer" : "a positive integer") +
             (f.max < std::numeric_limits<std::int32_t>::max() ? fmt::format(" up to {}", f.max) : "");
    case FieldType::number:
      return fmt::format("a number from {:g} to {:g}", static_cast<double>(f.min) / kNumberScale,
                         static_cast<double>(f.max) / kNumberScale);
  }
  return "a value";
}

std::int64_t parse_field_value(const PlanField& f, std::string_view text, const std::string& where) {
  const auto fail = [&] {
    throw core::InputError(where, std::string(f.key),
                           fmt::format("expected {}, got '{}'", field_expectation(f), text));
  };
  if (f.type == FieldType::integer) {
    // An integer, or a number with an integral value as JSON and YAML writers may print it ("1536.0", "1.5e3").
    const char* const end = text.data() + text.size();
    std::int64_t v = 0;
    auto [stop, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || stop != end) {
      double d = 0;
      const auto [dstop, dec] = std::from_chars(text.data(), end, d);
      if (dec != std::errc() || dstop != end || d != std::floor(d) || std::abs(d) > 9.0e15) fail();
      v = static_cast<std::int64_t>(d);
    }
    if (v < f.min || v > f.max) fail();
    return v;
  }
  if (f.type == FieldType::number) {
    const char* const end = text.data() + text.size();
    double d = 0;
    const auto [stop, ec] = std::from_chars(text.data(), end, d);
    if (ec != std::errc() || stop != end || !std::isfinite(d)) fail();
    const std::int64_t v = std::llround(d * kNumberScale);
    if (v < f.min || v > f.max) fail();
    return v;
  }
  if (f.type == FieldType::boolean) {
    if (text == "true" || text == "on" || text == "1") return 1;
    if (text == "false" || text == "off" || text == "0") return 0;
    fail();
  }
  if (f.id == PlanKey::schedule && text == "interleaved") return 1;  // an alias: 1f1b with vpp > 1
  if (f.id == PlanKey::framework && text == "torchtitan") return static_cast<std::int64_t>(Framework::fsdp);
  for (std::size_t i = 0; i < f.choices.size(); ++i)
    if (f.choices[i] == text) return static_cast<std::int64_t>(i);
  fail();
  return 0;
}

std::string field_value_text(const PlanField& f, std::int64_t code) {
  if (f.type == FieldType::integer) return std::to_string(code);
  if (f.type == FieldType::number) return fmt::format("{:g}", static_cast<double>(code) / kNumberScale);
  return std::string(f.choices[static_cast<std::size_t>(code)]);
}

YAML::Node plan_to_node(const Plan& plan) {
  YAML::Node n(YAML::NodeType::Map);
  for (const auto& f : plan_field_table()) {
    const std::string key(f.key);
    const std::int64_t code = f.get(plan);
    if (f.type == FieldType::integer) n[key] = code;
    else if (f.type == FieldType::number) n[key] = static_cast<double>(code) / kNumberScale;
    else if (f.type == FieldType::boolean) n[key] = code != 0;
    else n[key] = field_value_text(f, code);
  }
  if (!plan.pipeline_layers.empty()) {
    YAML::Node list(YAML::NodeType::Sequence);
    list.SetStyle(YAML::EmitterStyle::Flow);
    for (const std::int64_t v : plan.pipeline_layers) list.push_back(v);
    n[std::string(pipeline_layers_field().key)] = list;
  }
  return n;
}

std::string plan_summary_text(const Plan& p) {
  std::string s = fmt::format("tp {} pp {} dp {} cp {} ep {} vpp {} mbs {} recompute {} sp {} zero {}", p.tp, p.pp,
                              p.dp, p.cp, p.ep, p.vpp, p.micro_batch_size, to_string(p.recompute), p.sp ? "on" : "off",
                              p.zero);
  if (p.expert_tensor_parallel_size > 0 && p.expert_tensor_parallel_size != p.tp)
    s += fmt::format(" expert tp {}", p.expert_tensor_parallel_size);
  // An uneven split, when the plan has one: its keys say which.
  if (p.decoder_first_pipeline_num_layers > 0) s += fmt::format(" first-stage layers {}", p.decoder_first_pipeline_num_layers);
  if (p.decoder_last_pipeline_num_layers > 0) s += fmt::format(" last-stage layers {}", p.decoder_last_pipeline_num_layers);
  if (p.account_for_embedding_in_pipeline_split) s += " embedding in split";
  if (p.account_for_loss_in_pipeline_split) s += " loss in split";
  if (!p.pipeline_layers.empty()) s += fmt::format(" pipeline layers [{}]", fmt::join(p.pipeline_layers, ", "));
  return s;
}

}  // namespace hpsim::planner
