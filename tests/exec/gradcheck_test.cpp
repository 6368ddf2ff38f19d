// Finite-difference check of the hand-written backward: embedding, one transformer layer, final norm, LM head and
// cross-entropy, on one rank in fp32 (central differences, weights large enough to matter), for GPT's layer and
// for LLaMA's (RMSNorm, SwiGLU, rotary positions, grouped-query attention, no biases, untied head).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "exec/gpt_shard.hpp"
#include "exec/trainer.hpp"

namespace hpsim::exec {

namespace {

ShardShape small_shape() {
  ShardShape s;
  s.hidden = 16;
  s.heads = 2;
  s.ffn = 32;
  s.vocab = 32;
  s.seq = 8;
  s.micro_batch = 2;
  s.num_layers = 1;
  s.total_layers = 1;
  return s;
}

void check_finite_differences(const ShardShape& s) {
  auto be = make_cpu_backend();
  GptShard shard(s, *be, nullptr, 7);
  // Weights of order one so that every path (attention, GELU, LayerNorm) carries gradient.
  std::vector<float> w(shard.flat_size());
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.3F * seeded_normal(99, 0, static_cast<std::int64_t>(i));
  for (const auto& p : shard.params())
    if (p.name.find("ln") != std::string::npos && p.name.find("weight") != std::string::npos)  // norm gammas near 1
      for (std::size_t i = 0; i < p.local_size(); ++i) w[p.offset + i] += 1.0F;
  be->upload(shard.param_data(), w.data(), w.size());

  std::vector<std::int32_t> tokens, targets;
  for (std::int64_t b = 0; b < s.micro_batch; ++b) {
    const auto t = synthetic_sample(5, 0, b, s.seq, s.vocab);
    tokens.insert(tokens.end(), t.begin(), t.end() - 1);
    targets.insert(targets.end(), t.begin() + 1, t.end());
  }
  const auto th = static_cast<std::size_t>(s.tokens() * s.hidden);
  Buffer x0(*be, th), x1(*be, th), dx(*be, th);
  auto layer = shard.make_layer_cache(true);
  auto head = shard.make_head_cache();
  auto loss = [&] {
    shard.embedding_forward(tokens, layer.x.data());
    shard.layer_forward(0, layer.x.data(), x1.data(), layer);
    return shard.head_forward(x1.data(), targets, head);
  };
  loss();
  be->fill(shard.grad_data(), 0, shard.flat_size());
  shard.head_backward(targets, 1.0F, head, dx.data());
  shard.layer_backward(0, dx.data(), dx.data(), layer);
  shard.embedding_backward(tokens, dx.data());
  std::vector<float> grad(shard.flat_size());
  be->download(grad.data(), shard.grad_data(), grad.size());

  int checked = 0, expected = 0;
  double worst = 0;
  auto check_index = [&](const ParamInfo& p, std::size_t local) {
    const std::size_t i = p.offset + local;
    const float eps = 1e-2F, keep = w[i];
    w[i] = keep + eps;
    be->upload(shard.param_data(), w.data(), w.size());
    const double up = loss();
    w[i] = keep - eps;
    be->upload(shard.param_data(), w.data(), w.size());
    const double down = loss();
    w[i] = keep;
    const double fd = (up - down) / (2.0 * eps);
    const double err = std::abs(fd - grad[i]) / std::max(std::abs(fd), 1e-2);
    worst = std::max(worst, err);
    INFO(p.name << "[" << local << "]: backward " << grad[i] << ", finite difference " << fd);
    CHECK(err < 2e-2);
    ++checked;
  };
  for (const auto& p : shard.params()) {
    // The three largest gradients of each tensor, of each column block for [q | k | v] and [gate | up].
    const std::size_t blocks = std::max<std::size_t>(1, p.blocks.size());
    for (std::size_t blk = 0; blk < blocks; ++blk) {
      std::vector<std::size_t> idx;
      std::int64_t first = 0;
      for (std::size_t b = 0; b < blk; ++b) first += p.blocks[b];
      const std::int64_t last = p.blocks.empty() ? p.cols : first + p.blocks[blk];
      for (std::size_t i = 0; i < p.local_size(); ++i) {
        const std::int64_t col = p.global_index(static_cast<std::int64_t>(i), 0, 1) % p.cols;
        if (col >= first && col < last) idx.push_back(i);
      }
      std::partial_sort(idx.begin(), idx.begin() + 3, idx.end(), [&](std::size_t a, std::size_t b) {
        return std::abs(grad[p.offset + a]) > std::abs(grad[p.offset + b]);
      });
      for (int k = 0; k < 3; ++k) check_index(p, idx[static_cast<std::size_t>(k)]);
      expected += 3;
    }
  }
  be->upload(shard.param_data(), w.data(), w.size());
  CHECK(checked == expected);
  MESSAGE("finite-difference check: " << checked << " gradients, worst relative error " << worst);
}

}  // namespace

TEST_CASE("1rank: finite differences agree with the backward of a small GPT") { check_finite_differences(small_shape()); }

TEST_CASE("1rank: finite differences agree with the backward of a small LLaMA-style model") {
  auto s = small_shape();
  s.heads = 4;
  s.kv_heads = 2;
  s.rmsnorm = true;
  s.swiglu = true;
  s.rope = true;
  s.bias = false;
  s.tied = false;
  check_finite_differences(s);
}

}  // namespace hpsim::exec
