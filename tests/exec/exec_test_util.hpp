#pragma once
// Shared helpers of the executor tests: a tiny GPT and plans.
#include "models/model_spec.hpp"
#include "planner/plan.hpp"

namespace hpsim::exec::testing {

inline models::ModelSpec tiny_gpt(std::int64_t layers = 2) {
  models::ModelSpec m;
  m.name = "tiny-gpt";
  m.num_layers = layers;
  m.hidden_size = 64;
  m.num_heads = 4;
  m.num_kv_heads = 4;
  m.ffn_hidden_size = 256;
  m.vocab_size = 128;
  m.seq_length = 32;
  m.tie_embeddings = true;
  m.dropout = false;
  return m;
}

/// LLaMA's architecture at the same size: RMSNorm, SwiGLU, rotary positions, grouped-query attention (2 key/value
/// heads for 4 query heads), no biases, untied LM head.
inline models::ModelSpec tiny_llama(std::int64_t layers = 2) {
  auto m = tiny_gpt(layers);
  m.name = "tiny-llama";
  m.num_kv_heads = 2;
  m.ffn_hidden_size = 128;
  m.mlp = models::MlpKind::swiglu;
  m.norm = models::NormKind::rmsnorm;
  m.position = models::PositionKind::rope;
  m.linear_bias = false;
  m.tie_embeddings = false;
  return m;
}

inline planner::Plan plan_of(std::int64_t tp, std::int64_t pp, std::int64_t dp, std::int64_t zero = 0,
                             planner::Schedule schedule = planner::Schedule::one_f_one_b,
                             models::Recompute recompute = models::Recompute::none) {
  planner::Plan p;
  p.tp = tp;
  p.pp = pp;
  p.dp = dp;
  p.zero = zero;
  p.schedule = schedule;
  p.recompute = recompute;
  p.micro_batch_size = 2;
  p.global_batch_size = 8;
  p.seq_length = 32;
  p.precision = topologies::Precision::fp32;
  return p;
}

}  // namespace hpsim::exec::testing
