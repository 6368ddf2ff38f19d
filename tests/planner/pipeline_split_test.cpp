// Uneven pipeline splits: Megatron-LM's layer counts per (virtual) stage, its rules, and the balanced split hpsim
// chooses when a plan gives no split key and pp*vpp does not divide the layers.
#include <doctest/doctest.h>

#include <vector>

#include "planner/pipeline_balance.hpp"
#include "planner/pipeline_split.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

Plan pipeline(std::int64_t pp, std::int64_t vpp, std::int64_t first = 0, std::int64_t last = 0, bool embedding = false,
              bool loss = false) {
  Plan p;
  p.pp = pp, p.vpp = vpp;
  p.decoder_first_pipeline_num_layers = first, p.decoder_last_pipeline_num_layers = last;
  p.account_for_embedding_in_pipeline_split = embedding, p.account_for_loss_in_pipeline_split = loss;
  return p;
}

using Layers = std::vector<std::int64_t>;

/// Every setting of the four split keys that Megatron-LM's rules accept for these sizes (the brute force).
std::vector<Plan> every_allowed_split(std::int64_t layers, std::int64_t pp, std::int64_t vpp) {
  std::vector<Plan> out;
  for (const bool embedding : {false, true})
    for (const bool loss : {false, true})
      if (embedding || loss) out.push_back(pipeline(pp, vpp, 0, 0, embedding, loss));
  for (std::int64_t first = 0; first <= layers; ++first)
    for (std::int64_t last = 0; last <= layers; ++last)
      if (first > 0 || last > 0) out.push_back(pipeline(pp, vpp, first, last));
  std::vector<Plan> allowed;
  for (const Plan& p : out)
    if (check_pipeline_split(p, layers) == Rule::ok) allowed.push_back(p);
  return allowed;
}

PipelineUnitCosts units(double layer, double embedding, double head) {
  return {core::Seconds(layer), core::Seconds(embedding), core::Seconds(head)};
}

}  // namespace

TEST_CASE("pipeline split: Llama 3.1 405B, 126 layers, pp 8 vpp 8, embedding and loss accounted: 2 slots a virtual stage") {
  // (126 + 1 + 1) / 64 = 2 slots; the embedding takes one of virtual stage 0's, the loss one of virtual stage 63's.
  const PipelineSplit split(pipeline(8, 8, 0, 0, true, true), 126);
  CHECK(split.layers(0) == 1);
  CHECK(split.layers(63) == 1);
  for (std::int64_t vs = 1; vs < 63; ++vs) CHECK(split.layers(vs) == 2);
  CHECK(split.per_stage() == Layers{15, 16, 16, 16, 16, 16, 16, 15});
  CHECK_FALSE(split.even());
}

TEST_CASE("pipeline split: first/last stage counts, the rest even over the middle, each stage's share per virtual stage") {
  // torchtitan's default split points for 126 layers on 8 stages (15, 16 x 6, 15), as Megatron's keys.
  CHECK(PipelineSplit(pipeline(8, 1, 15, 15), 126).per_virtual_stage() == Layers{15, 16, 16, 16, 16, 16, 16, 15});
  // vpp 2: 14 and 16 on the ends, (126 - 30) / 6 = 16 on each middle stage; every stage's count halved per chunk.
  const PipelineSplit interleaved(pipeline(8, 2, 14, 16), 126);
  CHECK(interleaved.per_virtual_stage() == Layers{7, 8, 8, 8, 8, 8, 8, 8, 7, 8, 8, 8, 8, 8, 8, 8});
  CHECK(interleaved.per_stage() == Layers{14, 16, 16, 16, 16, 16, 16, 16});
  // Only the first given: the other stages, the last included, share the rest.
  CHECK(PipelineSplit(pipeline(4, 1, 18), 96).per_stage() == Layers{18, 26, 26, 26});
  CHECK(PipelineSplit(pipeline(2, 1, 0, 10), 32).per_stage() == Layers{22, 10});
  // The loss alone accounted: 128 slots of 16, the last stage gives one to the loss.
  CHECK(PipelineSplit(pipeline(8, 1, 0, 0, false, true), 127).per_stage() == Layers{16, 16, 16, 16, 16, 16, 16, 15});
  // Keys that happen to split evenly are even.
  CHECK(PipelineSplit(pipeline(4, 1, 8, 8), 32).even());
  CHECK(PipelineSplit(pipeline(4, 2), 32).even());
}

TEST_CASE("pipeline split: Megatron's rules, one broken at a time") {
  CHECK(check_pipeline_split(pipeline(8, 1, 15, 0, false, true), 126) == Rule::split_keys_exclusive);
  CHECK(check_pipeline_split(pipeline(1, 1, 126), 126) == Rule::split_needs_pp);
  CHECK(check_pipeline_split(pipeline(8, 2, 15, 15), 126) == Rule::split_stage_by_vpp);  // 15 per stage, 2 chunks
  CHECK(check_pipeline_split(pipeline(8, 1, 14, 15), 126) == Rule::split_middle_layers);  // 97 over 6 stages
  CHECK(check_pipeline_split(pipeline(8, 2, 14, 16), 126) == Rule::ok);
  CHECK(check_pipeline_split(pipeline(8, 4, 12, 24), 120) == Rule::split_middle_layers);  // 14 per middle stage, 4 chunks
  CHECK(check_pipeline_split(pipeline(2, 1, 10, 20), 32) == Rule::split_middle_layers);   // no middle: 10 + 20 != 32
  CHECK(check_pipeline_split(pipeline(2, 1, 10, 22), 32) == Rule::ok);
  CHECK(check_pipeline_split(pipeline(3, 1, 16, 16), 32) == Rule::split_middle_layers);   // nothing left for the middle
  CHECK(check_pipeline_split(pipeline(8, 8, 0, 0, true, false), 126) == Rule::split_slots_by_pp_vpp);  // 127 % 64
  CHECK(check_pipeline_split(pipeline(8, 8, 0, 0, true, true), 126) == Rule::ok);
  CHECK(check_pipeline_split(pipeline(8, 8), 126) == Rule::ok);          // no key: the balanced split is chosen
  CHECK(check_pipeline_split(pipeline(2, 5), 96) == Rule::layers_by_pp_vpp);  // no split Megatron allows exists
  CHECK(check_pipeline_split(pipeline(8, 1), 96) == Rule::ok);
}

TEST_CASE("pipeline split: a split Megatron allows exists exactly when uneven_split_exists says so") {
  for (std::int64_t layers = 1; layers <= 40; ++layers)
    for (std::int64_t pp = 1; pp <= 8; ++pp)
      for (std::int64_t vpp = 1; vpp <= 4; ++vpp) {
        if (layers % (pp * vpp) == 0) continue;
        CAPTURE(layers);
        CAPTURE(pp);
        CAPTURE(vpp);
        CHECK(uneven_split_exists(layers, pp, vpp) == !every_allowed_split(layers, pp, vpp).empty());
      }
}

TEST_CASE("pipeline balance: the chosen split's slowest stage is the smallest of every split Megatron allows") {
  struct Case {
    std::int64_t layers, pp, vpp;
  };
  // Unit costs: ends free, a heavy LM head (Llama's 128k vocabulary), a heavy embedding, both heavier than a layer.
  const PipelineUnitCosts costs[] = {units(1, 0, 0), units(1, 0.05, 0.7), units(1, 0.9, 0.1), units(1, 2.5, 3.0)};
  for (const Case& k : {Case{126, 8, 1}, Case{126, 8, 2}, Case{126, 8, 8}, Case{126, 4, 1}, Case{30, 4, 1},
                        Case{30, 4, 3}, Case{61, 4, 1}, Case{61, 2, 1}, Case{26, 3, 2}, Case{40, 6, 2}, Case{127, 8, 1}}) {
    const auto allowed = every_allowed_split(k.layers, k.pp, k.vpp);
    REQUIRE_FALSE(allowed.empty());
    for (const auto& u : costs) {
      CAPTURE(k.layers);
      CAPTURE(k.pp);
      CAPTURE(k.vpp);
      CAPTURE(u.embedding.value());
      CAPTURE(u.head.value());
      SplitBalance best = split_balance(allowed.front(), k.layers, u);
      for (const Plan& p : allowed)
        if (split_balance(p, k.layers, u).better_than(best)) best = split_balance(p, k.layers, u);
      const Plan chosen = balanced_split(pipeline(k.pp, k.vpp), k.layers, u);
      REQUIRE(split_keys_given(chosen));
      REQUIRE(check_pipeline_split(chosen, k.layers) == Rule::ok);
      const SplitBalance got = split_balance(chosen, k.layers, u);
      CHECK(got.slowest_stage_s == doctest::Approx(best.slowest_stage_s));
      CHECK(got.slowest_virtual_stage_s == doctest::Approx(best.slowest_virtual_stage_s));
    }
  }
}

TEST_CASE("pipeline balance: Llama 3.1 405B on pp 8 gets Megatron-Bridge's split; even plans are left alone") {
  // A layer, a cheap embedding and an LM head worth 0.7 layers: embedding and loss accounted (15, 16 x 6, 15).
  const Plan chosen = balanced_split(pipeline(8, 1), 126, units(1, 0.05, 0.7));
  CHECK(chosen.account_for_embedding_in_pipeline_split);
  CHECK(chosen.account_for_loss_in_pipeline_split);
  CHECK(PipelineSplit(chosen, 126).per_stage() == Layers{15, 16, 16, 16, 16, 16, 16, 15});
  // vpp 8: 126 is not a multiple of 8, so first/last counts cannot split it; the accounted slots can.
  CHECK(balanced_split(pipeline(8, 8), 126, units(1, 0.05, 0.7)).account_for_loss_in_pipeline_split);
  // An LM head worth 3 layers pushes layers off the last stage: first/last counts beat the accounted slots.
  // Accounted: (7, 8, 8, 7) makes the last stage 7 + 3 = 10 layers' work; (8, 8, 8, 6) makes the slowest 9.
  const Plan heavy = balanced_split(pipeline(4, 1), 30, units(1, 0, 3));
  CHECK(heavy.decoder_first_pipeline_num_layers > 0);
  CHECK(split_balance(heavy, 30, units(1, 0, 3)).slowest_stage_s == doctest::Approx(9));
  const Plan even = balanced_split(pipeline(4, 2), 32, units(1, 0, 3));
  CHECK_FALSE(split_keys_given(even));
}
