// Finite-difference check of the hand-written backward: embedding, one transformer layer, final LayerNorm, tied
// LM head and cross-entropy, on one rank in fp32 (central differences, weights large enough to matter).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "exec/gpt_shard.hpp"
#include "exec/trainer.hpp"

namespace hpsim::exec {

TEST_CASE("1rank: finite differences agree with the backward of a small GPT") {
  ShardShape s;
  s.hidden = 16;
  s.heads = 2;
  s.ffn = 32;
  s.vocab = 32;
  s.seq = 8;
  s.micro_batch = 2;
  s.num_layers = 1;
  s.total_layers = 1;
  auto be = make_cpu_backend();
  GptShard shard(s, *be, nullptr, 7);
  // Weights of order one so that every path (attention, GELU, LayerNorm) carries gradient.
  std::vector<float> w(shard.flat_size());
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.3F * seeded_normal(99, 0, static_cast<std::int64_t>(i));
  for (const auto& p : shard.params())
    if (p.name.find("ln") != std::string::npos && p.name.find("weight") != std::string::npos)
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

  int checked = 0;
  double worst = 0;
  for (const auto& p : shard.params()) {
    // The three largest gradients of each tensor.
    std::vector<std::size_t> idx(p.local_size());
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + 3, idx.end(), [&](std::size_t a, std::size_t b) {
      return std::abs(grad[p.offset + a]) > std::abs(grad[p.offset + b]);
    });
    for (int k = 0; k < 3; ++k) {
      const std::size_t i = p.offset + idx[static_cast<std::size_t>(k)];
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
      INFO(p.name << "[" << idx[static_cast<std::size_t>(k)] << "]: backward " << grad[i] << ", finite difference "
                  << fd);
      CHECK(err < 2e-2);
      ++checked;
    }
  }
  be->upload(shard.param_data(), w.data(), w.size());
  CHECK(checked == 3 * static_cast<int>(shard.params().size()));
  MESSAGE("finite-difference check: " << checked << " gradients, worst relative error " << worst);
}

}  // namespace hpsim::exec
