#include "exec/trainer.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "exec/comm_wait.hpp"
#include "exec/seeded_random.hpp"

namespace hpsim::exec {

namespace {

using i64 = std::int64_t;

}  // namespace

std::vector<std::int32_t> synthetic_sample(std::uint64_t seed, std::int64_t step, std::int64_t sample,
                                           std::int64_t seq, std::int64_t vocab) {
  // A learnable stream: mostly t' = (3t + 1) mod V, with a random token one time in eight.
  const std::uint64_t base = mix64(mix64(seed ^ 0xda7aULL) ^ mix64(static_cast<std::uint64_t>(step) * 0x9e37ULL) ^
                                 mix64(static_cast<std::uint64_t>(sample) + 0x51ULL));
  std::vector<std::int32_t> t(static_cast<std::size_t>(seq + 1));
  t[0] = static_cast<std::int32_t>(mix64(base) % static_cast<std::uint64_t>(vocab));
  for (i64 p = 1; p <= seq; ++p) {
    const std::uint64_t h = mix64(base ^ static_cast<std::uint64_t>(p));
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
  s.cp = plan.cp;
  s.cp_rank = grid_.coord().cp;
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
  const auto dp = static_cast<std::size_t>(grid_.dp().size());  // the ranks holding the same weights: dp x cp
  shard_ = std::make_unique<GptShard>(s, be_, &grid_.tp(), opt_.seed, plan.zero >= 1 ? dp : 1, &grid_.cp());
  recompute_ = plan.recompute == models::Recompute::full;
  const auto n_micro = static_cast<std::size_t>(plan.micro_batches());
  micro_.resize(n_micro);
  const auto th = static_cast<std::size_t>(s.local_tokens() * s.hidden);  // the residual stream on this rank
  for (auto& m : micro_) {
    for (i64 c = 0; c < plan.vpp; ++c) {
      m.out.emplace_back(be_, th);
      m.grad.emplace_back(be_, th);
    }
    m.slot.assign(static_cast<std::size_t>(plan.vpp), 0);
  }
  // Megatron's order (interleaved when vpp > 1), the planner's own; activations for as many micro-batches per chunk
  // as it has in flight at once.
  order_ = planner::pipeline_order(plan.schedule, plan.pp, plan.vpp, static_cast<i64>(n_micro), grid_.coord().pp);
  std::vector<std::size_t> live(static_cast<std::size_t>(plan.vpp), 0), most(live);
  for (const auto& op : order_) {
    auto& n = live[static_cast<std::size_t>(op.chunk)];
    if (op.forward)
      most[static_cast<std::size_t>(op.chunk)] = std::max(most[static_cast<std::size_t>(op.chunk)], ++n);
    else
      --n;
  }
  pool_.resize(static_cast<std::size_t>(plan.vpp));
  free_.resize(static_cast<std::size_t>(plan.vpp));
  for (std::size_t c = 0; c < pool_.size(); ++c) {
    pool_[c].resize(most[c]);
    for (auto& a : pool_[c]) {
      for (i64 l = 0; l < per_chunk; ++l)
        a.layers.push_back(shard_->make_layer_cache(!recompute_, plan.recompute != models::Recompute::selective));
      if (s.last_stage && c + 1 == pool_.size()) a.head = shard_->make_head_cache();
    }
  }
  if (recompute_) {
    scratch_ = shard_->make_layer_cache(true);
    scratch_out_ = Buffer(be_, th);
  }
  if (opt_.loss_scaling.enabled) {
    scale_ = opt_.loss_scaling.initial_scale;
    hysteresis_left_ = opt_.loss_scaling.hysteresis;
  }
  // Buckets: ZeRO-1 shards each one dp ways (the flat buffer is padded to a multiple of dp, so every bucket is too).
  overlap_ = plan.overlap_grad_reduce && dp > 1;
  const std::size_t shards = plan.zero >= 1 ? dp : 1;
  const std::size_t step_size = (opt_.bucket_elements + shards - 1) / shards * shards;
  for (std::size_t first = 0; first < shard_->flat_size(); first += step_size) {
    Bucket b;
    b.first = first;
    b.size = std::min(step_size, shard_->flat_size() - first);
    b.shard_first = first / shards;
    buckets_.push_back(b);
  }
  backward_left_.resize(static_cast<std::size_t>(plan.vpp));
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
  const i64 run = s.local_seq() / s.halves();
  for (i64 i = 0; i < s.micro_batch; ++i) {
    const i64 sample = grid_.coord().dp * per_dp + micro_index * s.micro_batch + i;
    const auto t = synthetic_sample(opt_.seed, step_, sample, s.seq, s.vocab);
    for (i64 k = 0; k < s.halves(); ++k) {  // this rank's positions of the sample (all of them without CP)
      const auto first = t.begin() + s.first_position(k);
      m.tokens.insert(m.tokens.end(), first, first + run);
      m.targets.insert(m.targets.end(), first + 1, first + run + 1);
    }
  }
}

void Trainer::forward(Micro& m, int index, int chunk) {
  const auto& s = shard_->shape();
  const auto th = static_cast<std::size_t>(s.local_tokens() * s.hidden);
  const int pp = static_cast<int>(plan_.pp), rank = static_cast<int>(grid_.coord().pp);
  const int stages = pp * static_cast<int>(plan_.vpp), vs = chunk * pp + rank;  // virtual stage
  const i64 per_chunk = s.num_layers / s.chunks, first = chunk * per_chunk;
  float* out_buf = m.out[static_cast<std::size_t>(chunk)].data();
  auto& slots = free_[static_cast<std::size_t>(chunk)];
  if (slots.empty()) throw std::logic_error("Trainer: more micro-batches in flight than the schedule said");
  m.slot[static_cast<std::size_t>(chunk)] = slots.back();
  slots.pop_back();
  Activations& act = pool_[static_cast<std::size_t>(chunk)][m.slot[static_cast<std::size_t>(chunk)]];
  float* first_input = per_chunk > 0 ? act.layers.front().x.data() : out_buf;
  if (vs == 0)
    shard_->embedding_forward(m.tokens, first_input);
  else  // from the previous virtual stage (the last rank's chunk c - 1 for the first rank)
    grid_.pp().recv(first_input, th, (rank + pp - 1) % pp, 2 * (index * stages + vs - 1));
  for (i64 l = first; l < first + per_chunk; ++l) {
    auto& cache = act.layers[static_cast<std::size_t>(l - first)];
    float* out = l + 1 < first + per_chunk ? act.layers[static_cast<std::size_t>(l - first + 1)].x.data() : out_buf;
    shard_->layer_forward(l, cache.x.data(), out, recompute_ ? scratch_ : cache);
  }
  if (vs == stages - 1)
    m.loss = shard_->head_forward(out_buf, m.targets, act.head);
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
  Activations& act = pool_[static_cast<std::size_t>(chunk)][m.slot[static_cast<std::size_t>(chunk)]];
  // The last micro-batch's backward through this chunk completes the gradients of its parameters, piece by piece.
  const bool last = --backward_left_[static_cast<std::size_t>(chunk)] == 0;
  if (vs == stages - 1) {
    const auto scale = static_cast<float>(scale_ / static_cast<double>(plan_.global_batch_size * s.seq));
    shard_->head_backward(m.targets, scale, act.head, grad);
    if (last) gradients_complete(shard_->head_range());
  } else {
    grid_.pp().recv(grad, th, (rank + 1) % pp, 2 * (index * stages + vs) + 1);
  }
  for (i64 l = first + per_chunk - 1; l >= first; --l) {
    auto& cache = act.layers[static_cast<std::size_t>(l - first)];
    if (recompute_) {
      shard_->layer_forward(l, cache.x.data(), scratch_out_.data(), scratch_);
      shard_->layer_backward(l, grad, grad, scratch_);
    } else {
      shard_->layer_backward(l, grad, grad, cache);
    }
    if (last) gradients_complete(shard_->layer_range(l));
    grid_.dp().progress();
  }
  if (vs == 0) {
    shard_->embedding_backward(m.tokens, grad);
    if (last) gradients_complete(shard_->embedding_range());
  } else {
    grid_.pp().send(grad, th, (rank + pp - 1) % pp, 2 * (index * stages + vs - 1) + 1);
  }
  free_[static_cast<std::size_t>(chunk)].push_back(m.slot[static_cast<std::size_t>(chunk)]);  // for a later forward
}

void Trainer::gradients_complete(GptShard::Range r) {
  // The tied embedding's copies (first and last stage) are summed first, at the end of the backward: their
  // elements complete there (the two stages' flat buffers differ, so ZeRO's slices would not line up after).
  if (embedding_sync_ != nullptr) {
    const auto [offset, size] = shard_->word_embedding_range();
    if (size > 0 && r.first < offset + size && offset < r.second) {
      if (r.first < offset) gradients_complete({r.first, offset});
      if (offset + size < r.second) gradients_complete({offset + size, r.second});
      return;
    }
  }
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    Bucket& b = buckets_[i];
    const std::size_t lo = std::max(r.first, b.first), hi = std::min(r.second, b.first + b.size);
    if (lo >= hi) continue;
    b.incomplete -= hi - lo;
    if (b.incomplete == 0 && overlap_) start_reduction(i);
  }
}

void Trainer::start_reduction(std::size_t bucket) {
  Bucket& b = buckets_[bucket];
  b.started = true;
  if (grid_.dp().size() == 1) return;
  auto& dp = grid_.dp();
  float* grad = shard_->grad_data() + b.first;
  if (plan_.zero >= 1)
    dp.start_reduce_scatter_sum(grad, shard_grad_.data() + b.shard_first,
                                b.size / static_cast<std::size_t>(dp.size()));
  else
    dp.start_all_reduce_sum(grad, b.size);
}

void Trainer::reduce_and_update() {
  auto& g = *shard_;
  auto& dp = grid_.dp();
  // The tied embedding's two copies first; then data parallelism (the buckets not started during the backward start
  // now); then the tensor-parallel sums of SP's partial gradients, which commute with it: with ZeRO-1 this rank's
  // reduced slice of each bucket goes back into the gradient buffer so that the all-reduce, over whole tensors (the
  // same flat layout and slice on every tp rank), completes it too (Megatron's order).
  overlapped_ = static_cast<std::size_t>(
      std::count_if(buckets_.begin(), buckets_.end(), [](const Bucket& b) { return b.started; }));
  if (embedding_sync_ != nullptr) {
    const auto [offset, size] = g.word_embedding_range();
    embedding_sync_->all_reduce_sum(g.grad_data() + offset, size);
    embedding_sync_ = nullptr;  // its elements now complete as any other's
    gradients_complete({offset, offset + size});
  }
  for (std::size_t i = 0; i < buckets_.size(); ++i)
    if (!buckets_[i].started) start_reduction(i);
  dp.wait_started();
  const bool zero = plan_.zero >= 1 && dp.size() > 1;
  const auto dps = static_cast<std::size_t>(dp.size()), rank = static_cast<std::size_t>(dp.rank());
  auto own = [&](const Bucket& b) { return g.grad_data() + b.first + rank * (b.size / dps); };
  if (zero)
    for (const auto& b : buckets_) be_.copy(own(b), shard_grad_.data() + b.shard_first, b.size / dps);
  g.reduce_sequence_parallel_grads();
  if (!zero) {
    const std::size_t n = g.flat_size();
    if (!gradients_finite([&] { return be_.all_finite(g.grad_data(), n); })) return;
    be_.adam(g.param_data(), g.grad_data(), m_.data(), v_.data(), n, opt_.adam, adam_steps_,
             static_cast<float>(1.0 / scale_));
    return;
  }
  const bool finite = gradients_finite([&] {
    return std::all_of(buckets_.begin(), buckets_.end(),
                       [&](const Bucket& b) { return be_.all_finite(own(b), b.size / dps); });
  });
  if (!finite) return;
  for (const auto& b : buckets_) {  // Adam on this rank's slice of each bucket, then every rank's slices gathered
    const std::size_t part = b.size / dps;
    float* param = g.param_data() + b.first + rank * part;
    be_.adam(param, own(b), m_.data() + b.shard_first, v_.data() + b.shard_first, part, opt_.adam, adam_steps_,
             static_cast<float>(1.0 / scale_));
    be_.copy(shard_param_.data() + b.shard_first, param, part);
    dp.all_gather(shard_param_.data() + b.shard_first, g.param_data() + b.first, part);
  }
}

bool Trainer::gradients_finite(const std::function<bool()>& local_finite) {
  const auto& ls = opt_.loss_scaling;
  if (!ls.enabled) {
    ++adam_steps_;
    return true;
  }
  int overflow = local_finite() ? 0 : 1;  // every rank must agree: one skips, all skip
  const CommunicationWait waiting;
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

TrainerState Trainer::save_state() const {
  TrainerState s;
  s.counters = {opt_.seed, step_, adam_steps_, scale_, skipped_, good_in_row_, hysteresis_left_};
  auto download = [&](const float* src, std::size_t n) {
    std::vector<float> out(n);
    be_.download(out.data(), src, n);
    return out;
  };
  s.params = download(shard_->param_data(), shard_->flat_size());
  s.adam_m = download(m_.data(), m_.size());
  s.adam_v = download(v_.data(), v_.size());
  return s;
}

void Trainer::load_state(const TrainerState& s) {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("Trainer::load_state: " + what);
  };
  const TrainerCounters& c = s.counters;
  require(c.seed == opt_.seed, "seed " + std::to_string(c.seed) + ", this run's is " + std::to_string(opt_.seed));
  require(s.params.size() == shard_->flat_size(), "parameter count " + std::to_string(s.params.size()) +
                                                      ", this rank's shard holds " +
                                                      std::to_string(shard_->flat_size()));
  require(s.adam_m.size() == m_.size() && s.adam_v.size() == v_.size(),
          "optimizer state of " + std::to_string(s.adam_m.size()) + " elements, this rank holds " +
              std::to_string(m_.size()));
  require(c.step >= 0 && c.adam_steps >= 0 && c.adam_steps <= c.step, "step counters out of range");
  be_.upload(shard_->param_data(), s.params.data(), s.params.size());  // refreshes a 16-bit copy too
  be_.upload(m_.data(), s.adam_m.data(), s.adam_m.size());
  be_.upload(v_.data(), s.adam_v.data(), s.adam_v.size());
  be_.synchronize();
  step_ = c.step;
  adam_steps_ = c.adam_steps;
  scale_ = c.loss_scale;
  skipped_ = c.skipped_steps;
  good_in_row_ = c.good_in_row;
  hysteresis_left_ = c.hysteresis_left;
}

double Trainer::step() {
  const auto& s = shard_->shape();
  be_.fill(shard_->grad_data(), 0.0F, shard_->flat_size());
  std::fill(backward_left_.begin(), backward_left_.end(), static_cast<std::int64_t>(micro_.size()));
  for (std::size_t c = 0; c < pool_.size(); ++c) {
    free_[c].clear();
    for (std::size_t i = pool_[c].size(); i-- > 0;) free_[c].push_back(i);
  }
  embedding_sync_ = shard_->shape().tied ? grid_.embedding() : nullptr;
  for (auto& b : buckets_) {
    b.incomplete = b.first < shard_->param_elements() ? std::min(b.size, shard_->param_elements() - b.first) : 0;
    b.started = false;
  }
  for (std::size_t i = 0; i < micro_.size(); ++i) {
    load_batch(micro_[i], static_cast<i64>(i));
    micro_[i].loss = 0;
  }
  for (const auto& op : order_) {
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
  const CommunicationWait waiting;
  check_mpi(MPI_Allreduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, grid_.world().comm()), "MPI_Allreduce");
  return total / static_cast<double>(plan_.global_batch_size * s.seq);
}

}  // namespace hpsim::exec
