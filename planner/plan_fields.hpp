#pragma once
/// The one declaration of every plan key: name, flag, type, default, range, help and whether the search varies it.
/// File reading and writing, the flags of simulate/plan/run, the search space, the explanations, the Megatron
/// emitter and the generated key table in the docs all walk this table.
#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "planner/plan.hpp"

namespace hpsim::planner {

/// Every plan key, in the order of CONTRACT.md's table; indexes plan_field_table().
enum class PlanKey {
  tp, pp, dp, cp, ep, vpp, sp, micro_batch_size, global_batch_size, seq_length, recompute, zero, precision, schedule,
  tp_comm_overlap, cp_comm_overlap, overlap_grad_reduce, overlap_param_gather, flash_attention, parameter_servers,
  decoder_first_pipeline_num_layers, decoder_last_pipeline_num_layers, account_for_embedding_in_pipeline_split,
  account_for_loss_in_pipeline_split, fp8_recipe, attention_backend, execution, framework, expert_tensor_parallel_size,
  moe_expert_capacity_factor, moe_pad_expert_input_to_capacity, moe_grouped_gemm, moe_token_dispatcher,
  moe_load_imbalance, fp8_param_gather, grad_dtype, optimizer_dtype, count
};
inline constexpr std::size_t kPlanKeyCount = static_cast<std::size_t>(PlanKey::count);

/// number: a real value held as its thousandths (kNumberScale), so that every code stays an integer.
enum class FieldType { integer, boolean, choice, number };
inline constexpr double kNumberScale = 1000;

/// One plan key. A value is held as an integer code: the number itself, 0/1 for a boolean, the index into
/// `choices` for a choice, thousandths for a number.
struct PlanField {
  PlanKey id;
  std::string_view key;   ///< file and JSON key
  std::string_view flag;  ///< command-line flag of simulate, plan and run
  FieldType type;
  std::span<const std::string_view> choices;  ///< choice: the names, in code order
  std::int64_t min = 0, max = std::numeric_limits<std::int32_t>::max();  ///< integer, number: the allowed range
  std::int64_t default_code = 0;  ///< the value when the key is absent
  bool required = false;          ///< no default: a plan must give it
  std::string_view default_text;  ///< the default as documented ("1", "derived", "the model's")
  /// The search: true = an axis the planner varies (its flag pins or bounds it); false = one value for every
  /// candidate (its flag sets it).
  bool searched = false;
  std::string_view search_default;  ///< an axis's domain when unconstrained, in flag syntax; empty: every value
  std::string_view megatron_flag;   ///< Megatron-LM's argument when it maps one to one; empty: the emitter decides
  std::string_view help;
  std::int64_t (*get)(const Plan&);
  void (*set)(Plan&, std::int64_t);
};

/// The table, indexed by PlanKey.
const std::array<PlanField, kPlanKeyCount>& plan_field_table();
inline const PlanField& plan_field(PlanKey k) { return plan_field_table()[static_cast<std::size_t>(k)]; }
/// The field with this file key or flag, or nullptr.
const PlanField* find_plan_field(std::string_view key_or_flag);

/// The one plan key whose value is a list, declared beside the table (the table's codes are scalars): read and
/// written by plan_from_fields / plan_to_node, printed by `hpsim keys`; no search axis (the planner chooses it).
struct PlanListField {
  std::string_view key;
  std::string_view values;        ///< what it accepts, in words
  std::string_view default_text;
  std::string_view help;
};
/// `pipeline_layers`: decoder layers per pipeline stage.
const PlanListField& pipeline_layers_field();
/// Reads the list key's value from a file's node; InputError(where, key, ...) when it is not a list of positive
/// integers.
std::vector<std::int64_t> parse_pipeline_layers(const YAML::Node& node, const std::string& where);

/// Parses one value as written in a file or after a flag; both give the same error: InputError(where, key, ...).
std::int64_t parse_field_value(const PlanField& field, std::string_view text, const std::string& where);
/// A value's text as a file writes it ("8", "true", "selective").
std::string field_value_text(const PlanField& field, std::int64_t code);
/// What a field accepts, in words ("a positive integer", "none, selective or full").
std::string field_expectation(const PlanField& field);

/// The plan as a plan file's `plan` mapping, every key typed as a hand-written file types it;
/// plan_from_fields(plan_to_node(p)) == p.
YAML::Node plan_to_node(const Plan& plan);

/// "tp 8 pp 4 dp 16 cp 1 ..." — the searched fields of a plan, for messages.
std::string plan_summary_text(const Plan& plan);

}  // namespace hpsim::planner
