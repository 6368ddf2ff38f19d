#include "planner/pipeline_split.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace hpsim::planner {

namespace {

std::string str(std::int64_t v) { return std::to_string(v); }

bool counts_given(const Plan& p) {
  return p.decoder_first_pipeline_num_layers > 0 || p.decoder_last_pipeline_num_layers > 0;
}

bool accounted(const Plan& p) {
  return p.account_for_embedding_in_pipeline_split || p.account_for_loss_in_pipeline_split;
}

/// Pipeline stages that share the layers the first/last counts leave.
std::int64_t other_stages(const Plan& p) {
  return p.pp - (p.decoder_first_pipeline_num_layers > 0 ? 1 : 0) - (p.decoder_last_pipeline_num_layers > 0 ? 1 : 0);
}

std::int64_t accounted_slots(const Plan& p, std::int64_t num_layers) {
  return num_layers + (p.account_for_embedding_in_pipeline_split ? 1 : 0) +
         (p.account_for_loss_in_pipeline_split ? 1 : 0);
}

/// transformer_config.py's uneven-PP checks, in its order: first/last counts positive (the key's range) and
/// divisible by vpp, then the rest even over the middle stages, a multiple of vpp per stage.
Rule check_stage_counts(const Plan& p, std::int64_t num_layers) {
  if (p.pp < 2) return Rule::split_needs_pp;
  if (p.decoder_first_pipeline_num_layers % p.vpp != 0 || p.decoder_last_pipeline_num_layers % p.vpp != 0)
    return Rule::split_stage_by_vpp;
  const std::int64_t rest = num_layers - p.decoder_first_pipeline_num_layers - p.decoder_last_pipeline_num_layers;
  const std::int64_t middle = other_stages(p);
  if (middle == 0) return rest == 0 ? Rule::ok : Rule::split_middle_layers;
  if (rest <= 0 || rest % middle != 0 || (rest / middle) % p.vpp != 0) return Rule::split_middle_layers;
  return Rule::ok;
}

}  // namespace

PipelineSplit::PipelineSplit(const Plan& p, std::int64_t num_layers)
    : pp_(p.pp), vpp_(p.vpp), num_layers_(num_layers), given_(p.pipeline_layers), first_(p.decoder_first_pipeline_num_layers),
      last_(p.decoder_last_pipeline_num_layers), middle_(0), slots_(0),
      embedding_(p.account_for_embedding_in_pipeline_split), loss_(p.account_for_loss_in_pipeline_split) {
  if (!split_is_determined(p, num_layers))
    throw std::logic_error("pipeline split not chosen: pp*vpp does not divide the layers and no split key is set");
  if (first_ > 0 || last_ > 0) {
    const std::int64_t others = other_stages(p);
    middle_ = others > 0 ? (num_layers - first_ - last_) / others : 0;
  } else {
    slots_ = accounted_slots(p, num_layers) / (pp_ * vpp_);
  }
}

std::int64_t PipelineSplit::layers(std::int64_t vs) const {
  if (!given_.empty()) return given_[static_cast<std::size_t>(vs % pp_)] / vpp_;
  if (first_ > 0 || last_ > 0) {
    // Megatron gives each virtual stage of a pipeline stage an equal share of that stage's count.
    const std::int64_t stage = vs % pp_;
    std::int64_t per_stage = middle_;
    if (stage == 0 && first_ > 0) per_stage = first_;
    else if (stage == pp_ - 1 && last_ > 0) per_stage = last_;
    return per_stage / vpp_;
  }
  // The embedding (loss) takes one slot of the first (last) virtual stage.
  return slots_ - (embedding_ && vs == 0 ? 1 : 0) - (loss_ && vs == pp_ * vpp_ - 1 ? 1 : 0);
}

std::int64_t PipelineSplit::layers_among_first(std::int64_t vs, std::int64_t k) const {
  if (k <= 0) return 0;
  std::int64_t start = 0;  // the first layer of `vs`, as far as it matters
  for (std::int64_t v = 0; v < vs && start < k; ++v) start += layers(v);
  return std::clamp<std::int64_t>(k - start, 0, layers(vs));
}

std::int64_t PipelineSplit::stage_layers(std::int64_t stage) const {
  std::int64_t sum = 0;
  for (std::int64_t c = 0; c < vpp_; ++c) sum += layers(c * pp_ + stage);
  return sum;
}

bool PipelineSplit::even() const {
  if (given_.empty() && first_ == 0 && last_ == 0 && !embedding_ && !loss_)  // the default: slots_ each
    return slots_ * virtual_stages() == num_layers_;
  for (std::int64_t vs = 0; vs < virtual_stages(); ++vs)
    if (layers(vs) * virtual_stages() != num_layers_) return false;
  return true;
}

std::vector<std::int64_t> PipelineSplit::per_virtual_stage() const {
  std::vector<std::int64_t> out;
  for (std::int64_t vs = 0; vs < virtual_stages(); ++vs) out.push_back(layers(vs));
  return out;
}

std::vector<std::int64_t> PipelineSplit::per_stage() const {
  std::vector<std::int64_t> out;
  for (std::int64_t s = 0; s < pp_; ++s) out.push_back(stage_layers(s));
  return out;
}

bool split_keys_given(const Plan& p) { return counts_given(p) || accounted(p) || !p.pipeline_layers.empty(); }

bool split_is_determined(const Plan& p, std::int64_t num_layers) {
  return split_keys_given(p) || num_layers % (p.pp * p.vpp) == 0;
}

bool uneven_split_exists(std::int64_t num_layers, std::int64_t pp, std::int64_t vpp) {
  const std::int64_t stages = pp * vpp;
  if ((num_layers + 1) % stages == 0 || (num_layers + 2) % stages == 0) return true;  // embedding and/or loss slots
  return pp >= 2 && num_layers % vpp == 0 && num_layers >= stages;                  // first/last stage counts
}

Rule check_pipeline_split(const Plan& p, std::int64_t num_layers) {
  if (!p.pipeline_layers.empty()) {
    if (counts_given(p) || accounted(p)) return Rule::split_keys_exclusive;
    if (static_cast<std::int64_t>(p.pipeline_layers.size()) != p.pp) return Rule::pipeline_layers_shape;
    std::int64_t sum = 0;
    for (const std::int64_t n : p.pipeline_layers) {
      if (n < p.vpp || n % p.vpp != 0) return Rule::pipeline_layers_shape;
      sum += n;
    }
    return sum == num_layers ? Rule::ok : Rule::pipeline_layers_shape;
  }
  // Megatron refuses both forms at once (transformer_config.py: "cannot be set at the same time").
  if (counts_given(p) && accounted(p)) return Rule::split_keys_exclusive;
  if (counts_given(p)) return check_stage_counts(p, num_layers);
  // transformer_config.py: (layers + accounted embedding/loss) divisible by pp, and per stage by vpp.
  if (accounted(p)) return accounted_slots(p, num_layers) % (p.pp * p.vpp) == 0 ? Rule::ok : Rule::split_slots_by_pp_vpp;
  if (num_layers % (p.pp * p.vpp) != 0 && !uneven_split_exists(num_layers, p.pp, p.vpp)) return Rule::layers_by_pp_vpp;
  return Rule::ok;
}

RuleBreach explain_pipeline_split(Rule r, const Plan& p, std::int64_t num_layers) {
  const bool first = p.decoder_first_pipeline_num_layers > 0;
  const std::string count_key = first ? "decoder_first_pipeline_num_layers" : "decoder_last_pipeline_num_layers";
  const std::string counts = "first " + str(p.decoder_first_pipeline_num_layers) + ", last " +
                             str(p.decoder_last_pipeline_num_layers);
  switch (r) {
    case Rule::split_keys_exclusive:
      if (!p.pipeline_layers.empty())
        return {"pipeline_layers", "cannot be combined with Megatron-LM's split keys (decoder_first/last_pipeline_"
                                   "num_layers, account_for_embedding/loss_in_pipeline_split)"};
      return {count_key, "cannot be combined with account_for_embedding_in_pipeline_split or "
                         "account_for_loss_in_pipeline_split (Megatron-LM takes one form of uneven split)"};
    case Rule::split_needs_pp: return {count_key, "an uneven pipeline split needs pp > 1"};
    case Rule::split_stage_by_vpp:
      return {p.decoder_first_pipeline_num_layers % p.vpp != 0 ? "decoder_first_pipeline_num_layers"
                                                               : "decoder_last_pipeline_num_layers",
              "must be a multiple of vpp (" + str(p.vpp) + "): each virtual stage of the stage holds an equal share (" +
                  counts + ")"};
    case Rule::split_middle_layers:
      if (other_stages(p) == 0)
        return {count_key, "with no middle stage, the first and last stage counts (" + counts +
                               ") must add up to num_hidden_layers (" + str(num_layers) + ")"};
      return {count_key, "the " + str(num_layers - p.decoder_first_pipeline_num_layers - p.decoder_last_pipeline_num_layers) +
                             " layers left (num_hidden_layers " + str(num_layers) + ", " + counts +
                             ") must split evenly over the other " + str(other_stages(p)) +
                             " stages, a positive multiple of vpp (" + str(p.vpp) + ") each"};
    case Rule::split_slots_by_pp_vpp:
      return {p.account_for_embedding_in_pipeline_split ? "account_for_embedding_in_pipeline_split"
                                                        : "account_for_loss_in_pipeline_split",
              "num_hidden_layers (" + str(num_layers) + ") with the accounted embedding/loss makes " +
                  str(accounted_slots(p, num_layers)) + " layer slots, not divisible by pp*vpp = " + str(p.pp * p.vpp)};
    case Rule::pipeline_layers_shape: {
      std::string given;
      for (const std::int64_t n : p.pipeline_layers) given += (given.empty() ? "" : ", ") + str(n);
      return {"pipeline_layers", "expected pp (" + str(p.pp) + ") layer counts, each a positive multiple of vpp (" +
                                     str(p.vpp) + "), adding up to num_hidden_layers (" + str(num_layers) +
                                     "), got [" + given + "]"};
    }
    case Rule::layers_by_pp_vpp:
      return {p.vpp > 1 ? "vpp" : "pp",
              "pp*vpp = " + str(p.pp * p.vpp) + " does not divide num_hidden_layers (" + str(num_layers) +
                  ") and no uneven split Megatron-LM allows fits: neither layers+1 nor layers+2 (embedding/loss "
                  "accounted) divides by pp*vpp, and first/last stage counts need vpp to divide the layers and at "
                  "least pp*vpp of them"};
    default: return {"", ""};
  }
}

}  // namespace hpsim::planner
