#include "exec/trainer.hpp"

#include <algorithm>
#include <stdexcept>

#include "planner/pipeline_schedule.hpp"

namespace hpsim::exec {

namespace {

using i64 = std::int64_t;

std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<std::int32_t> synthetic_sample(std::uint64_t seed, std::int64_t step, std::int64_t sample,
                                           std::int64_t seq, std::int64_t vocab) {
  // A learnable stream: mostly t' = (3t + 1) mod V, with a random token one time in eight.
  const std::uint64_t base = mix(mix(seed ^ 0xda7aULL) ^ mix(static_cast<std::uint64_t>(step) * 0x9e37ULL) ^
                                 mix(static_cast<std::uint64_t>(sample) + 0x51ULL));
  std::vector<std::int32_t> t(static_cast<std::size_t>(seq + 1));
  t[0] = static_cast<std::int32_t>(mix(base) % static_cast<std::uint64_t>(vocab));
  for (i64 p = 1; p <= seq; ++p) {
    const std::uint64_t h = mix(base ^ static_cast<std::uint64_t>(p));
    t[static_cast<std::size_t>(p)] =
        (h % 8 == 0) ? static_cast<std::int32_t>((h >> 8) % static_cast<std::uint64_t>(vocab))
                     : static_cast<std::int32_t>((3 * static_cast<i64>(t[static_cast<std::size_t>(p - 1)]) + 1) % vocab);
  }
  return t;
}

Trainer::Trainer(const models::ModelSpec& model, const planner::Plan& plan, ComputeBackend& backend, MPI_Comm world,
                 const TrainerOptions& options)
    : plan_(plan), be_(backend), grid_(plan, world, options.comm_factory), opt_(options) {
  ShardShape s;
  s.hidden = model.hidden_size;
  s.heads = model.num_heads;
  s.ffn = model.ffn_hidden_size > 0 ? model.ffn_hidden_size : 4 * model.hidden_size;
  s.vocab = model.vocab_size;
  s.kv_heads = model.num_kv_heads;
  s.rmsnorm = model.norm == models::NormKind::rmsnorm;
  s.swiglu = model.mlp == models::MlpKind::swiglu;
  s.rope = model.position == models::PositionKind::rope;
  s.bias = model.linear_bias;
  s.tied = model.tie_embeddings;
  s.seq = plan.seq_length;
  s.micro_batch = plan.micro_batch_size;
  s.tp = plan.tp;
  s.tp_rank = grid_.coord().tp;
  s.sp = plan.sp && plan.tp > 1;
  s.total_layers = model.num_layers;
  if (plan.vpp > 1 && options.comm_factory)
    throw std::invalid_argument("Trainer: the interleaved schedule (vpp > 1) runs with MPI communication only");
  const i64 per_chunk = model.num_layers / (plan.pp * plan.vpp);
  s.chunks = plan.vpp;
  s.num_layers = per_chunk * plan.vpp;
  s.first_layer = grid_.coord().pp * per_chunk;
  s.chunk_stride = plan.pp * per_chunk;
  s.first_stage = grid_.first_stage();
  s.last_stage = grid_.last_stage();
  const auto dp = static_cast<std::size_t>(plan.dp);
  shard_ = std::make_unique<GptShard>(s, be_, &grid_.tp(), opt_.seed, plan.zero >= 1 ? dp : 1);
  recompute_ = plan.recompute == models::Recompute::full;
  const auto n_micro = static_cast<std::size_t>(plan.micro_batches());
  micro_.resize(n_micro);
  const auto th = static_cast<std::size_t>(s.local_tokens() * s.hidden);  // the residual stream on this rank
  for (auto& m : micro_) {
    for (i64 c = 0; c < plan.vpp; ++c) {
      m.out.emplace_back(be_, th);
      m.grad.emplace_back(be_, th);
    }
    for (i64 l = 0; l < s.num_layers; ++l)
      m.layers.push_back(shard_->make_layer_cache(!recompute_, plan.recompute != models::Recompute::selective));
    if (s.last_stage) m.head = shard_->make_head_cache();
  }
  if (recompute_) {
    scratch_ = shard_->make_layer_cache(true);
    scratch_out_ = Buffer(be_, th);
  }
  if (opt_.loss_scaling.enabled) {
    scale_ = opt_.loss_scaling.initial_scale;
    hysteresis_left_ = opt_.loss_scaling.hysteresis;
  }
  const std::size_t opt_size = plan.zero >= 1 ? shard_->flat_size() / dp : shard_->flat_size();
  m_ = Buffer(be_, opt_size);
  v_ = Buffer(be_, opt_size);
  if (plan.zero >= 1) {
    shard_grad_ = Buffer(be_, opt_size);
    shard_param_ = Buffer(be_, opt_size);
  }
}

void Trainer::load_batch(Micro& m, std::int64_t micro_index) {
  const auto& s = shard_->shape();
  const i64 per_dp = plan_.global_batch_size / plan_.dp;
  m.tokens.clear();
  m.targets.clear();
  for (i64 i = 0; i < s.micro_batch; ++i) {
    const i64 sample = grid_.coord().dp * per_dp + micro_index * s.micro_batch + i;
    const auto t = synthetic_sample(opt_.seed, step_, sample, s.seq, s.vocab);
    m.tokens.insert(m.tokens.end(), t.begin(), t.end() - 1);
    m.targets.insert(m.targets.end(), t.begin() + 1, t.end());
  }
}

void Trainer::forward(Micro& m, int index, int chunk) {
  const auto& s = shard_->shape();
  const auto th = static_cast<std::size_t>(s.local_tokens() * s.hidden);
  const int pp = static_cast<int>(plan_.pp), rank = static_cast<int>(grid_.coord().pp);
  const int stages = pp * static_cast<int>(plan_.vpp), vs = chunk * pp + rank;  // virtual stage
  const i64 per_chunk = s.num_layers / s.chunks, first = chunk * per_chunk;
  float* out_buf = m.out[static_cast<std::size_t>(chunk)].data();
  float* first_input = per_chunk > 0 ? m.layers[static_cast<std::size_t>(first)].x.data() : out_buf;
  if (vs == 0)
    shard_->embedding_forward(m.tokens, first_input);
  else  // from the previous virtual stage (the last rank's chunk c - 1 for the first rank)
    grid_.pp().recv(first_input, th, (rank + pp - 1) % pp, 2 * (index * stages + vs - 1));
  for (i64 l = first; l < first + per_chunk; ++l) {
    auto& cache = m.layers[static_cast<std::size_t>(l)];
    float* out = l + 1 < first + per_chunk ? m.layers[static_cast<std::size_t>(l + 1)].x.data() : out_buf;
    shard_->layer_forward(l, cache.x.data(), out, recompute_ ? scratch_ : cache);
  }
  if (vs == stages - 1)
    m.loss = shard_->head_forward(out_buf, m.targets, m.head);
  else
    grid_.pp().send(out_buf, th, (rank + 1) % pp, 2 * (index * stages + vs));
}

void Trainer::backward(Micro& m, int index, int chunk) {
  const auto& s = shard_->shape();
  const auto th = static_cast<std::size_t>(s.local_tokens() * s.hidden);
  const int pp = static_cast<int>(plan_.pp), rank = static_cast<int>(grid_.coord().pp);
  const int stages = pp * static_cast<int>(plan_.vpp), vs = chunk * pp + rank;
  const i64 per_chunk = s.num_layers / s.chunks, first = chunk * per_chunk;
  float* grad = m.grad[static_cast<std::size_t>(chunk)].data();
  if (vs == stages - 1) {
    const auto scale = static_cast<float>(scale_ / static_cast<double>(plan_.global_batch_size * s.seq));
    shard_->head_backward(m.targets, scale, m.head, grad);
  } else {
    grid_.pp().recv(grad, th, (rank + 1) % pp, 2 * (index * stages + vs) + 1);
  }
  for (i64 l = first + per_chunk - 1; l >= first; --l) {
    auto& cache = m.layers[static_cast<std::size_t>(l)];
    if (recompute_) {
      shard_->layer_forward(l, cache.x.data(), scratch_out_.data(), scratch_);
      shard_->layer_backward(l, grad, grad, scratch_);
    } else {
      shard_->layer_backward(l, grad, grad, cache);
    }
  }
  if (vs == 0)
    shard_->embedding_backward(m.tokens, grad);
  else
    grid_.pp().send(grad, th, (rank + pp - 1) % pp, 2 * (index * stages + vs - 1) + 1);
}

void Trainer::reduce_and_update() {
  auto& g = *shard_;
  const std::size_t n = g.flat_size();
  g.reduce_sequence_parallel_grads();
  auto* emb = shard_->shape().tied ? grid_.embedding() : nullptr;
  if (emb != nullptr) {  // tied embedding: first and last stage sum their gradients
    const auto [offset, size] = g.word_embedding_range();
    emb->all_reduce_sum(g.grad_data() + offset, size);
  }
  auto& dp = grid_.dp();
  if (plan_.zero >= 1 && plan_.dp > 1) {
    const std::size_t part = n / static_cast<std::size_t>(plan_.dp);
    const std::size_t first = part * static_cast<std::size_t>(dp.rank());
    dp.reduce_scatter_sum(g.grad_data(), shard_grad_.data(), part);
    if (!gradients_finite(shard_grad_.data(), part)) return;
    be_.adam(g.param_data() + first, shard_grad_.data(), m_.data(), v_.data(), part, opt_.adam, adam_steps_,
             static_cast<float>(1.0 / scale_));
    be_.copy(shard_param_.data(), g.param_data() + first, part);
    dp.all_gather(shard_param_.data(), g.param_data(), part);
    return;
  }
  for (std::size_t first = 0; first < n; first += opt_.bucket_elements)
    dp.all_reduce_sum(g.grad_data() + first, std::min(opt_.bucket_elements, n - first));
  if (!gradients_finite(g.grad_data(), n)) return;
  be_.adam(g.param_data(), g.grad_data(), m_.data(), v_.data(), n, opt_.adam, adam_steps_,
           static_cast<float>(1.0 / scale_));
}

bool Trainer::gradients_finite(const float* grad, std::size_t n) {
  const auto& ls = opt_.loss_scaling;
  if (!ls.enabled) {
    ++adam_steps_;
    return true;
  }
  int overflow = be_.all_finite(grad, n) ? 0 : 1;  // every rank must agree: one skips, all skip
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, &overflow, 1, MPI_INT, MPI_MAX, grid_.world().comm()), "MPI_Allreduce");
  if (overflow != 0) {
    ++skipped_;
    good_in_row_ = 0;
    if (--hysteresis_left_ <= 0) scale_ = std::max(scale_ * ls.backoff, ls.min_scale);
    return false;
  }
  if (++good_in_row_ == ls.window) {
    good_in_row_ = 0;
    hysteresis_left_ = ls.hysteresis;
    scale_ *= ls.growth;
  }
  ++adam_steps_;
  return true;
}

double Trainer::step() {
  const auto& s = shard_->shape();
  be_.fill(shard_->grad_data(), 0.0F, shard_->flat_size());
  for (std::size_t i = 0; i < micro_.size(); ++i) {
    load_batch(micro_[i], static_cast<i64>(i));
    micro_[i].loss = 0;
  }
  // Megatron's order (interleaved when vpp > 1), the planner's own.
  const auto ops = planner::pipeline_order(plan_.schedule, plan_.pp, plan_.vpp, static_cast<i64>(micro_.size()),
                                           grid_.coord().pp);
  for (const auto& op : ops) {
    const int i = static_cast<int>(op.micro_batch), chunk = static_cast<int>(op.chunk);
    if (op.forward)
      forward(micro_[static_cast<std::size_t>(i)], i, chunk);
    else
      backward(micro_[static_cast<std::size_t>(i)], i, chunk);
  }
  grid_.pp().wait_sends();
  ++step_;
  reduce_and_update();
  be_.synchronize();
  double local = 0;
  if (s.last_stage && s.tp_rank == 0)
    for (const auto& m : micro_) local += m.loss;
  double total = 0;
  check_mpi(MPI_Allreduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, grid_.world().comm()), "MPI_Allreduce");
  return total / static_cast<double>(plan_.global_batch_size * s.seq);
}

}  // namespace hpsim::exec
