#include "exec/gpt_shard.hpp"

#include <cmath>
#include <stdexcept>

namespace hpsim::exec {

namespace {

using i64 = std::int64_t;

constexpr float kLnEps = 1e-5F;

// Tensor ids: the same id is the same full tensor on every rank (the tied LM head is the word table); layer l's
// tensors are kLayerIds + 16 l + 0..11.
enum TensorId : std::int64_t { kWordTable = 1, kPositionTable = 2, kFinalNormWeight = 3, kFinalNormBias = 4,
                               kLmHead = 5, kLayerIds = 100 };

// y[T, out] = x[T, in] W[in, out]
void linear(ComputeBackend& be, const float* x, const float* wt, float* y, i64 t, i64 in, i64 out) {
  be.gemm(false, false, t, out, in, 1.0F, x, in, wt, out, 0.0F, y, out);
}
// dW += x^T dy ; dx = dy W^T (dx may be null)
void linear_backward(ComputeBackend& be, const float* x, const float* wt, const float* dy, float* dw, float* dx, i64 t,
                     i64 in, i64 out) {
  be.gemm(true, false, in, out, t, 1.0F, x, in, dy, out, 1.0F, dw, out);
  if (dx != nullptr) be.gemm(false, true, t, in, out, 1.0F, dy, out, wt, out, 0.0F, dx, in);
}

}  // namespace

std::int64_t ParamInfo::global_index(std::int64_t i, std::int64_t tp_rank, std::int64_t /*tp*/) const {
  const i64 r = i / local_cols, c = i % local_cols;
  switch (split) {
    case Split::none: return i;
    case Split::columns: return r * cols + tp_rank * local_cols + c;
    case Split::rows: return (tp_rank * local_rows + r) * cols + c;
    case Split::block_columns: {
      i64 first = 0, cc = c;  // find the block of local column c
      for (const i64 width : blocks) {
        const i64 local = width * local_cols / cols;
        if (cc < local) return r * cols + first + tp_rank * local + cc;
        cc -= local;
        first += width;
      }
      return -1;
    }
  }
  return i;
}

std::size_t GptShard::add(const std::string& name, std::int64_t id, std::int64_t rows, std::int64_t cols, Split split,
                          float std, float value, std::vector<std::int64_t> blocks) {
  ParamInfo p;
  p.name = name;
  p.id = id;
  p.rows = rows;
  p.cols = cols;
  p.split = split;
  p.local_rows = split == Split::rows ? rows / s_.tp : rows;
  p.local_cols = (split == Split::columns || split == Split::block_columns) ? cols / s_.tp : cols;
  p.blocks = std::move(blocks);
  p.offset = total_;
  p.init_std = std;
  p.init_value = value;
  total_ += p.local_size();
  if (split == Split::none && id != kPositionTable) p.sums_over_tokens = true;  // positions: one row per position
  params_.push_back(std::move(p));
  return params_.size() - 1;
}

GptShard::GptShard(const ShardShape& shape, ComputeBackend& backend, CommBackend* tp_comm, std::uint64_t seed,
                   std::size_t pad_multiple, CommBackend* cp_comm)
    : s_(shape), be_(backend), tp_comm_(tp_comm), cp_comm_(cp_comm) {
  const i64 h = s_.hidden, f = s_.ffn, v = s_.vocab, kvh = s_.kv() * (h / std::max<i64>(s_.heads, 1));
  if (h % s_.heads != 0 || s_.heads % s_.tp != 0 || f % s_.tp != 0 || v % s_.tp != 0)
    throw std::invalid_argument("GptShard: hidden by heads, heads, ffn and vocab by tp must divide");
  if (s_.heads % s_.kv() != 0 || s_.kv() % s_.tp != 0)
    throw std::invalid_argument("GptShard: heads by kv heads and kv heads by tp must divide");
  if (s_.chunks < 1 || s_.num_layers % s_.chunks != 0)
    throw std::invalid_argument("GptShard: the layers must divide by the chunks");
  if (s_.tp == 1) s_.sp = false;
  if (s_.cp > 1 && (s_.seq % (2 * s_.cp) != 0 || cp_comm_ == nullptr))
    throw std::invalid_argument("GptShard: context parallelism needs 2 cp to divide the sequence and a cp group");
  if (s_.sp && s_.tokens() % s_.tp != 0)
    throw std::invalid_argument("GptShard: sequence parallelism needs tp to divide the micro-batch's tokens");
  constexpr float kStd = 0.02F;
  const float out_std = kStd / std::sqrt(2.0F * static_cast<float>(s_.total_layers));  // Megatron's scaled init
  const bool layernorm = !s_.rmsnorm;
  if (s_.first_stage) {
    word_ = add("word_embedding", kWordTable, v, h, Split::rows, kStd, 0);
    if (!s_.rope) pos_ = add("position_embedding", kPositionTable, s_.seq, h, Split::none, kStd, 0);
  }
  embedding_range_ = {0, total_};
  const i64 fc1 = s_.swiglu ? 2 * f : f;
  const std::vector<i64> fc1_blocks = s_.swiglu ? std::vector<i64>{f, f} : std::vector<i64>{};
  const Split fc1_split = s_.swiglu ? Split::block_columns : Split::columns;
  for (i64 l = 0; l < s_.num_layers; ++l) {
    const i64 gl = s_.global_layer(l), id = kLayerIds + 16 * gl;
    const std::string p = "layers." + std::to_string(gl) + ".";
    const std::size_t layer_first = total_;
    LayerParams lp{kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone};
    lp.ln1_g = add(p + "ln1.weight", id + 0, 1, h, Split::none, 0, 1);
    if (layernorm) lp.ln1_b = add(p + "ln1.bias", id + 1, 1, h, Split::none, 0, 0);
    lp.wqkv = add(p + "qkv.weight", id + 2, h, h + 2 * kvh, Split::block_columns, kStd, 0, {h, kvh, kvh});
    if (s_.bias) lp.bqkv = add(p + "qkv.bias", id + 3, 1, h + 2 * kvh, Split::block_columns, 0, 0, {h, kvh, kvh});
    lp.wo = add(p + "proj.weight", id + 4, h, h, Split::rows, out_std, 0);
    if (s_.bias) lp.bo = add(p + "proj.bias", id + 5, 1, h, Split::none, 0, 0);
    lp.ln2_g = add(p + "ln2.weight", id + 6, 1, h, Split::none, 0, 1);
    if (layernorm) lp.ln2_b = add(p + "ln2.bias", id + 7, 1, h, Split::none, 0, 0);
    lp.w1 = add(p + "fc1.weight", id + 8, h, fc1, fc1_split, kStd, 0, fc1_blocks);
    if (s_.bias) lp.b1 = add(p + "fc1.bias", id + 9, 1, fc1, fc1_split, 0, 0, fc1_blocks);
    lp.w2 = add(p + "fc2.weight", id + 10, f, h, Split::rows, out_std, 0);
    if (s_.bias) lp.b2 = add(p + "fc2.bias", id + 11, 1, h, Split::none, 0, 0);
    layers_.push_back(lp);
    layer_ranges_.emplace_back(layer_first, total_);
  }
  head_range_ = {total_, total_};
  if (s_.last_stage) {
    lnf_g_ = add("final_ln.weight", kFinalNormWeight, 1, h, Split::none, 0, 1);
    if (layernorm) lnf_b_ = add("final_ln.bias", kFinalNormBias, 1, h, Split::none, 0, 0);
    if (!s_.tied)
      head_ = add("lm_head", kLmHead, v, h, Split::rows, kStd, 0);
    else
      head_ = s_.first_stage ? word_ : add("lm_head (tied)", kWordTable, v, h, Split::rows, kStd, 0);
    head_range_.second = total_;  // a tied head on the first stage is the word table: the embedding's range
  }
  const std::size_t padded = (total_ + pad_multiple - 1) / pad_multiple * pad_multiple;
  weights_ = Buffer(be_, padded);
  grads_ = Buffer(be_, padded);
  std::vector<float> host(padded, 0.0F);
  for (const auto& p : params_) {
    float* dst = host.data() + p.offset;
    for (i64 i = 0; i < static_cast<i64>(p.local_size()); ++i)
      dst[i] = p.init_std > 0 ? p.init_std * seeded_normal(seed, p.id, p.global_index(i, s_.tp_rank, s_.tp))
                              : p.init_value;
  }
  be_.upload(weights_.data(), host.data(), padded);
  be_.register_parameters(weights_.data(), padded);

  const i64 t = s_.tokens(), wide = std::max({h, qkv_width(), fc1_width()});
  ws_a_ = Buffer(be_, static_cast<std::size_t>(t * wide));
  ws_b_ = Buffer(be_, static_cast<std::size_t>(t * wide));
  ws_c_ = Buffer(be_, static_cast<std::size_t>(t * std::max(h, v / s_.tp)));
  ws_d_ = Buffer(be_, static_cast<std::size_t>(t * h));
  ws_probs_ = Buffer(be_, static_cast<std::size_t>(s_.micro_batch * (s_.heads / s_.tp) * s_.local_seq() * s_.seq));
  if (s_.cp > 1) {
    const auto kv2 = static_cast<std::size_t>(2 * s_.kv() / s_.tp * (h / s_.heads));  // [k | v] of a position
    ws_kv_local_ = Buffer(be_, static_cast<std::size_t>(t) * kv2);
    ws_kv_gathered_ = Buffer(be_, static_cast<std::size_t>(s_.cp * t) * kv2);
    ws_kv_all_ = Buffer(be_, static_cast<std::size_t>(s_.micro_batch * s_.seq) * kv2);
    ws_dkv_all_ = Buffer(be_, static_cast<std::size_t>(s_.micro_batch * s_.seq) * kv2);
  }
  ws_cols_ = Buffer(be_, static_cast<std::size_t>(t));
  const auto local = static_cast<std::size_t>(s_.local_tokens() * h);
  ws_local_ = Buffer(be_, local);
  ws_dmid_ = Buffer(be_, local);
  if (s_.sp) {
    std::size_t n = 0;
    for (const auto& p : params_)
      if (p.sums_over_tokens) n += p.local_size();
    ws_sp_grads_ = Buffer(be_, n);
  }
}

const ParamInfo* GptShard::find(const std::string& name) const {
  for (const auto& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

std::int64_t GptShard::qkv_width() const {
  return (s_.heads + 2 * s_.kv()) / s_.tp * (s_.hidden / s_.heads);
}

std::int64_t GptShard::fc1_width() const { return (s_.swiglu ? 2 : 1) * s_.ffn / s_.tp; }

std::pair<std::size_t, std::size_t> GptShard::word_embedding_range() const {
  const std::size_t i = s_.first_stage ? word_ : (s_.tied ? head_ : kNone);
  if (i == kNone) return {0, 0};
  return {params_[i].offset, params_[i].local_size()};
}

LayerCache GptShard::make_layer_cache(bool full, bool keep_probs) const {
  const auto t = static_cast<std::size_t>(s_.tokens()), h = static_cast<std::size_t>(s_.hidden);
  const auto tl = static_cast<std::size_t>(s_.local_tokens());
  const auto hl = h / static_cast<std::size_t>(s_.tp), fl = static_cast<std::size_t>(s_.ffn / s_.tp);
  LayerCache c;
  c.x = Buffer(be_, tl * h);
  if (!full) return c;
  c.ln1 = Buffer(be_, t * h);
  if (!s_.rmsnorm) c.ln1_mean = Buffer(be_, tl);
  c.ln1_rstd = Buffer(be_, tl);
  c.qkv = Buffer(be_, t * static_cast<std::size_t>(qkv_width()));
  if (keep_probs)
    c.probs = Buffer(be_, static_cast<std::size_t>(s_.micro_batch * (s_.heads / s_.tp) * s_.local_seq() * s_.seq));
  c.ctx = Buffer(be_, t * hl);
  c.mid = Buffer(be_, tl * h);
  c.ln2 = Buffer(be_, t * h);
  if (!s_.rmsnorm) c.ln2_mean = Buffer(be_, tl);
  c.ln2_rstd = Buffer(be_, tl);
  c.h1 = Buffer(be_, t * static_cast<std::size_t>(fc1_width()));
  c.g = Buffer(be_, t * fl);
  return c;
}

HeadCache GptShard::make_head_cache() const {
  const auto t = static_cast<std::size_t>(s_.tokens()), h = static_cast<std::size_t>(s_.hidden);
  const auto tl = static_cast<std::size_t>(s_.local_tokens());
  HeadCache c;
  c.x = Buffer(be_, tl * h);
  c.xf = Buffer(be_, t * h);
  if (!s_.rmsnorm) c.mean = Buffer(be_, tl);
  c.rstd = Buffer(be_, tl);
  c.logits = Buffer(be_, t * static_cast<std::size_t>(s_.vocab / s_.tp));
  c.max = Buffer(be_, t);
  c.sum_exp = Buffer(be_, t);
  return c;
}

void GptShard::all_reduce_tp(float* x, std::size_t n) {
  if (tp_comm_ != nullptr && s_.tp > 1) tp_comm_->all_reduce_sum(x, n);
}

float* GptShard::reduce_tokens(float* partial, float* local) {
  if (!s_.sp) {
    all_reduce_tp(partial, static_cast<std::size_t>(s_.tokens() * s_.hidden));
    return partial;
  }
  tp_comm_->reduce_scatter_sum(partial, local, static_cast<std::size_t>(s_.local_tokens() * s_.hidden));
  return local;
}

const float* GptShard::gather_tokens(const float* local, float* full) {
  if (!s_.sp) return local;
  tp_comm_->all_gather(local, full, static_cast<std::size_t>(s_.local_tokens() * s_.hidden));
  return full;
}

void GptShard::reduce_sequence_parallel_grads() {
  if (!s_.sp) return;
  std::size_t at = 0;  // pack, one all-reduce, unpack
  for (const auto& p : params_)
    if (p.sums_over_tokens) {
      be_.copy(ws_sp_grads_.data() + at, grads_.data() + p.offset, p.local_size());
      at += p.local_size();
    }
  tp_comm_->all_reduce_sum(ws_sp_grads_.data(), at);
  at = 0;
  for (const auto& p : params_)
    if (p.sums_over_tokens) {
      be_.copy(grads_.data() + p.offset, ws_sp_grads_.data() + at, p.local_size());
      at += p.local_size();
    }
}

void GptShard::embedding_forward(std::span<const std::int32_t> tokens, float* out) {
  const i64 h = s_.hidden, vl = s_.vocab / s_.tp;
  float* partial = s_.sp ? ws_d_.data() : out;  // [T, H]: this rank's vocabulary rows only
  be_.embedding_forward(tokens, w(word_), s_.tp_rank * vl, vl, h, partial);
  // Positions join one rank's partial sum so that the reduction adds them once.
  if (s_.tp_rank == 0 && pos_ != kNone) {
    if (s_.cp == 1) {
      be_.add_positions(partial, w(pos_), s_.micro_batch, s_.seq, h);
    } else {  // the rank's two runs of positions in each sample
      const i64 ls = s_.local_seq(), run = ls / s_.halves();
      for (i64 b = 0; b < s_.micro_batch; ++b)
        for (i64 k = 0; k < s_.halves(); ++k)
          be_.add_positions(partial + (b * ls + k * run) * h, w(pos_) + s_.first_position(k) * h, 1, run, h);
    }
  }
  float* reduced = reduce_tokens(partial, out);
  if (reduced != out) be_.copy(out, reduced, static_cast<std::size_t>(s_.local_tokens() * h));
}

void GptShard::embedding_backward(std::span<const std::int32_t> tokens, const float* dout) {
  const i64 h = s_.hidden, vl = s_.vocab / s_.tp;
  const float* full = gather_tokens(dout, ws_d_.data());  // every rank then holds the whole (replicated) gradient
  be_.embedding_backward(tokens, full, s_.tp_rank * vl, vl, h, gr(word_));
  if (pos_ == kNone) return;
  if (s_.cp == 1) {
    be_.position_grad(gr(pos_), full, s_.micro_batch, s_.seq, h);
    return;
  }
  const i64 ls = s_.local_seq(), run = ls / s_.halves();
  for (i64 b = 0; b < s_.micro_batch; ++b)
    for (i64 k = 0; k < s_.halves(); ++k)
      be_.position_grad(gr(pos_) + s_.first_position(k) * h, full + (b * ls + k * run) * h, 1, run, h);
}

GptShard::KeyValues GptShard::key_values(float* qkv) {
  const i64 w = qkv_width(), hl = s_.heads / s_.tp * (s_.hidden / s_.heads), kvl = s_.kv() / s_.tp * (s_.hidden / s_.heads);
  if (s_.cp == 1) return {qkv + hl, qkv + hl + kvl, w, s_.seq * w};
  return {ws_kv_all_.data(), ws_kv_all_.data() + kvl, 2 * kvl, s_.seq * 2 * kvl};
}

// With CP the all-gather returns each rank's positions ([cp rank][sample][its two runs]); attention wants each
// sample's positions in order: chunk j of 2 cp is rank j's first run for j < cp, rank 2 cp - 1 - j's second after.
void GptShard::gather_key_values(const float* qkv) {
  if (s_.cp == 1) return;
  const i64 w = qkv_width(), hl = s_.heads / s_.tp * (s_.hidden / s_.heads), kv2 = w - hl;
  const i64 t = s_.tokens(), ls = s_.local_seq(), chunk = s_.seq / (2 * s_.cp);
  be_.copy_rows(ws_kv_local_.data(), kv2, qkv + hl, w, t, kv2);
  cp_comm_->all_gather(ws_kv_local_.data(), ws_kv_gathered_.data(), static_cast<std::size_t>(t * kv2));
  for (i64 b = 0; b < s_.micro_batch; ++b)
    for (i64 j = 0; j < 2 * s_.cp; ++j) {
      const i64 rank = j < s_.cp ? j : 2 * s_.cp - 1 - j, run = j < s_.cp ? 0 : 1;
      be_.copy(ws_kv_all_.data() + (b * s_.seq + j * chunk) * kv2,
               ws_kv_gathered_.data() + (rank * t + b * ls + run * chunk) * kv2,
               static_cast<std::size_t>(chunk * kv2));
    }
}

void GptShard::reduce_key_value_grads(float* dqkv) {
  if (s_.cp == 1) return;
  const i64 w = qkv_width(), hl = s_.heads / s_.tp * (s_.hidden / s_.heads), kv2 = w - hl;
  const i64 t = s_.tokens(), ls = s_.local_seq(), chunk = s_.seq / (2 * s_.cp);
  for (i64 b = 0; b < s_.micro_batch; ++b)  // back into the ranks' order, then each rank's sum over the cp ranks
    for (i64 j = 0; j < 2 * s_.cp; ++j) {
      const i64 rank = j < s_.cp ? j : 2 * s_.cp - 1 - j, run = j < s_.cp ? 0 : 1;
      be_.copy(ws_kv_gathered_.data() + (rank * t + b * ls + run * chunk) * kv2,
               ws_dkv_all_.data() + (b * s_.seq + j * chunk) * kv2, static_cast<std::size_t>(chunk * kv2));
    }
  cp_comm_->reduce_scatter_sum(ws_kv_gathered_.data(), ws_kv_local_.data(), static_cast<std::size_t>(t * kv2));
  be_.copy_rows(dqkv + hl, w, ws_kv_local_.data(), kv2, t, kv2);
}

// Local qkv row: [q: heads/tp heads | k: kv/tp heads | v: kv/tp heads], head_dim each; query head h reads key/value
// head h / group (grouped-query attention; group 1 without it). Each run of the rank's positions (the whole sample
// without CP) attends to every position of the sample, causally. The products run batched: per sample, run and
// offset g within a group, over the kv heads (query heads g, g + group, ...; key/value heads 0, 1, ...).
// probs: [sample][run][head][run's positions][seq].
void GptShard::attention_forward(const LayerCache& c, const KeyValues& kv, float* probs, float* ctx) {
  const i64 s = s_.seq, nh = s_.heads / s_.tp, d = s_.hidden / s_.heads, hl = nh * d;
  const i64 w = qkv_width(), nkv = s_.kv() / s_.tp, group = s_.heads / s_.kv();
  const i64 ls = s_.local_seq(), runs = s_.halves(), run = ls / runs;
  for (i64 b = 0; b < s_.micro_batch; ++b)
    for (i64 k = 0; k < runs; ++k)
      for (i64 g = 0; g < group; ++g) {
        const float* q = c.qkv.data() + (b * ls + k * run) * w + g * d;
        float* p = probs + ((b * runs + k) * nh + g) * run * s;
        be_.gemm_batched(false, true, run, s, d, 1.0F, q, w, group * d, kv.k + b * kv.sample_stride, kv.ld, d, 0.0F,
                         p, s, group * run * s, nkv);  // S = Q K^T
      }
  for (i64 b = 0; b < s_.micro_batch; ++b)
    for (i64 k = 0; k < runs; ++k)
      be_.causal_softmax_forward(probs + (b * runs + k) * nh * run * s, nh, run, s, s_.first_position(k),
                                 1.0F / std::sqrt(static_cast<float>(d)));
  for (i64 b = 0; b < s_.micro_batch; ++b)
    for (i64 k = 0; k < runs; ++k)
      for (i64 g = 0; g < group; ++g) {
        const float* p = probs + ((b * runs + k) * nh + g) * run * s;
        be_.gemm_batched(false, false, run, d, s, 1.0F, p, s, group * run * s, kv.v + b * kv.sample_stride, kv.ld, d,
                         0.0F, ctx + (b * ls + k * run) * hl + g * d, hl, group * d, nkv);  // C = P V
      }
}

// dK and dV into `kv` (dqkv's rows without CP, every position's with it), summed over a group's query heads and
// over the runs.
void GptShard::attention_backward(LayerCache& c, const KeyValues& kv, const float* probs, const float* dctx,
                                  float* dqkv) {
  const i64 s = s_.seq, nh = s_.heads / s_.tp, d = s_.hidden / s_.heads, hl = nh * d;
  const i64 w = qkv_width(), nkv = s_.kv() / s_.tp, group = s_.heads / s_.kv();
  const i64 ls = s_.local_seq(), runs = s_.halves(), run = ls / runs;
  const KeyValues dkv = s_.cp == 1 ? key_values(dqkv)
                                   : KeyValues{ws_dkv_all_.data(), ws_dkv_all_.data() + kv.ld / 2, kv.ld,
                                               kv.sample_stride};
  float* dp = ws_probs_.data();
  for (i64 b = 0; b < s_.micro_batch; ++b)
    for (i64 k = 0; k < runs; ++k)
      for (i64 g = 0; g < group; ++g) {
        const float* p = probs + ((b * runs + k) * nh + g) * run * s;
        const float* dc = dctx + (b * ls + k * run) * hl + g * d;
        const float first = k == 0 && g == 0 ? 0.0F : 1.0F;
        be_.gemm_batched(false, true, run, s, d, 1.0F, dc, hl, group * d, kv.v + b * kv.sample_stride, kv.ld, d, 0.0F,
                         dp + ((b * runs + k) * nh + g) * run * s, s, group * run * s, nkv);  // dP = dC V^T
        be_.gemm_batched(true, false, s, d, run, 1.0F, p, s, group * run * s, dc, hl, group * d, first,
                         dkv.v + b * dkv.sample_stride, dkv.ld, d, nkv);  // dV += P^T dC
      }
  be_.softmax_backward(probs, dp, dp, s_.micro_batch * runs * nh * run, s, 1.0F / std::sqrt(static_cast<float>(d)));
  for (i64 b = 0; b < s_.micro_batch; ++b)
    for (i64 k = 0; k < runs; ++k)
      for (i64 g = 0; g < group; ++g) {
        const float* q = c.qkv.data() + (b * ls + k * run) * w + g * d;
        const float* ds = dp + ((b * runs + k) * nh + g) * run * s;
        const float first = k == 0 && g == 0 ? 0.0F : 1.0F;
        be_.gemm_batched(false, false, run, d, s, 1.0F, ds, s, group * run * s, kv.k + b * kv.sample_stride, kv.ld, d,
                         0.0F, dqkv + (b * ls + k * run) * w + g * d, w, group * d, nkv);  // dQ = dS K
        be_.gemm_batched(true, false, s, d, run, 1.0F, ds, s, group * run * s, q, w, group * d, first,
                         dkv.k + b * dkv.sample_stride, dkv.ld, d, nkv);  // dK += dS^T Q
      }
  reduce_key_value_grads(dqkv);
}

void GptShard::norm_forward(std::size_t gamma, std::size_t beta, const float* x, float* y, float* mean, float* rstd,
                            std::int64_t rows) {
  if (s_.rmsnorm)
    be_.rmsnorm_forward(x, w(gamma), y, rstd, rows, s_.hidden, kLnEps);
  else
    be_.layernorm_forward(x, w(gamma), w(beta), y, mean, rstd, rows, s_.hidden, kLnEps);
}

void GptShard::norm_backward(std::size_t gamma, std::size_t beta, const float* dy, const float* x, const float* mean,
                             const float* rstd, float* dx, std::int64_t rows) {
  if (s_.rmsnorm)
    be_.rmsnorm_backward(dy, x, w(gamma), rstd, dx, gr(gamma), rows, s_.hidden);
  else
    be_.layernorm_backward(dy, x, w(gamma), mean, rstd, dx, gr(gamma), gr(beta), rows, s_.hidden);
}

void GptShard::add_bias(std::size_t bias, float* y, std::int64_t rows, std::int64_t cols) {
  if (bias != kNone) be_.add_bias(y, w(bias), rows, cols);
}

void GptShard::bias_grad(std::size_t bias, const float* dy, std::int64_t rows, std::int64_t cols) {
  if (bias != kNone) be_.bias_grad(gr(bias), dy, rows, cols);
}

void GptShard::rope(float* qkv, bool inverse) {
  if (!s_.rope) return;
  const i64 d = s_.hidden / s_.heads, nh = s_.heads / s_.tp, nkv = s_.kv() / s_.tp;
  const i64 ls = s_.local_seq(), run = ls / s_.halves(), w = qkv_width();
  for (i64 b = 0; b < s_.micro_batch; ++b)  // each run of consecutive positions: q's heads, then k's
    for (i64 k = 0; k < s_.halves(); ++k) {
      float* rows = qkv + (b * ls + k * run) * w;
      be_.rope(rows, run, w, nh, d, run, s_.first_position(k), s_.rope_base, inverse);
      be_.rope(rows + nh * d, run, w, nkv, d, run, s_.first_position(k), s_.rope_base, inverse);
    }
}

void GptShard::layer_forward(std::int64_t l, const float* x, float* out, LayerCache& c) {
  const auto& lp = layers_[static_cast<std::size_t>(l)];
  const i64 t = s_.tokens(), tl = s_.local_tokens(), h = s_.hidden, hl = h / s_.tp, fl = s_.ffn / s_.tp;
  const i64 qkv = qkv_width(), fc1 = fc1_width();
  const auto tlh = static_cast<std::size_t>(tl * h);
  if (c.x.data() != x) be_.copy(c.x.data(), x, tlh);
  // With SP the norm runs on the local tokens and its output is gathered for the column-parallel GEMM.
  float* ln1 = s_.sp ? ws_local_.data() : c.ln1.data();
  norm_forward(lp.ln1_g, lp.ln1_b, c.x.data(), ln1, c.ln1_mean.data(), c.ln1_rstd.data(), tl);
  gather_tokens(ln1, c.ln1.data());
  linear(be_, c.ln1.data(), w(lp.wqkv), c.qkv.data(), t, h, qkv);
  add_bias(lp.bqkv, c.qkv.data(), t, qkv);
  rope(c.qkv.data(), false);
  gather_key_values(c.qkv.data());
  const KeyValues kv = key_values(c.qkv.data());
  if (c.probs.data() == nullptr) {  // selective recomputation: probs are not kept
    if (ws_recompute_probs_.data() == nullptr) ws_recompute_probs_ = Buffer(be_, ws_probs_.size());
    attention_forward(c, kv, ws_recompute_probs_.data(), c.ctx.data());
  } else {
    attention_forward(c, kv, c.probs.data(), c.ctx.data());
  }
  linear(be_, c.ctx.data(), w(lp.wo), ws_d_.data(), t, hl, h);  // row-parallel: partial sums over tp
  float* attn = reduce_tokens(ws_d_.data(), ws_local_.data());
  add_bias(lp.bo, attn, tl, h);
  be_.copy(c.mid.data(), c.x.data(), tlh);
  be_.axpy(c.mid.data(), 1.0F, attn, tlh);
  float* ln2 = s_.sp ? ws_local_.data() : c.ln2.data();
  norm_forward(lp.ln2_g, lp.ln2_b, c.mid.data(), ln2, c.ln2_mean.data(), c.ln2_rstd.data(), tl);
  gather_tokens(ln2, c.ln2.data());
  linear(be_, c.ln2.data(), w(lp.w1), c.h1.data(), t, h, fc1);
  add_bias(lp.b1, c.h1.data(), t, fc1);
  if (s_.swiglu)
    be_.swiglu_forward(c.h1.data(), c.g.data(), t, fl);
  else
    be_.gelu_forward(c.h1.data(), c.g.data(), static_cast<std::size_t>(t * fl));
  linear(be_, c.g.data(), w(lp.w2), ws_d_.data(), t, fl, h);
  float* mlp = reduce_tokens(ws_d_.data(), ws_local_.data());
  add_bias(lp.b2, mlp, tl, h);
  be_.copy(out, c.mid.data(), tlh);
  be_.axpy(out, 1.0F, mlp, tlh);
}

void GptShard::layer_backward(std::int64_t l, const float* dout, float* dx, LayerCache& c) {
  const auto& lp = layers_[static_cast<std::size_t>(l)];
  const i64 t = s_.tokens(), tl = s_.local_tokens(), h = s_.hidden, hl = h / s_.tp, fl = s_.ffn / s_.tp;
  const i64 qkv = qkv_width(), fc1 = fc1_width();
  const auto tlh = static_cast<std::size_t>(tl * h);
  float* dmid = ws_dmid_.data();  // gradient of the residual stream between the two blocks (local tokens)
  be_.copy(dmid, dout, tlh);
  // MLP block: out = mid + fc2(act(fc1(ln2(mid))))
  float* dg = ws_a_.data();
  float* dh1 = ws_b_.data();
  bias_grad(lp.b2, dout, tl, h);
  const float* dout_full = gather_tokens(dout, ws_d_.data());
  linear_backward(be_, c.g.data(), w(lp.w2), dout_full, gr(lp.w2), dg, t, fl, h);
  if (s_.swiglu)
    be_.swiglu_backward(c.h1.data(), dg, dh1, t, fl);
  else
    be_.gelu_backward(c.h1.data(), dg, dh1, static_cast<std::size_t>(t * fl));
  bias_grad(lp.b1, dh1, t, fc1);
  linear_backward(be_, c.ln2.data(), w(lp.w1), dh1, gr(lp.w1), ws_c_.data(), t, h, fc1);
  const float* dln = reduce_tokens(ws_c_.data(), ws_local_.data());  // column-parallel input gradient
  float* dtmp = ws_a_.data();
  norm_backward(lp.ln2_g, lp.ln2_b, dln, c.mid.data(), c.ln2_mean.data(), c.ln2_rstd.data(), dtmp, tl);
  be_.axpy(dmid, 1.0F, dtmp, tlh);
  // Attention block: mid = x + proj(attn(rope(qkv(ln1(x)))))
  float* dctx = ws_a_.data();
  bias_grad(lp.bo, dmid, tl, h);
  const float* dmid_full = gather_tokens(dmid, ws_d_.data());
  linear_backward(be_, c.ctx.data(), w(lp.wo), dmid_full, gr(lp.wo), dctx, t, hl, h);
  float* dqkv = ws_b_.data();
  gather_key_values(c.qkv.data());  // CP: gathered again, as Megatron's ring passes them again in backward
  const KeyValues kv = key_values(c.qkv.data());
  const float* probs = c.probs.data();
  if (probs == nullptr) {  // selective recomputation: re-run the attention core (its ctx output is discarded)
    if (ws_recompute_probs_.data() == nullptr) ws_recompute_probs_ = Buffer(be_, ws_probs_.size());
    if (ws_recompute_ctx_.data() == nullptr) ws_recompute_ctx_ = Buffer(be_, c.ctx.size());
    attention_forward(c, kv, ws_recompute_probs_.data(), ws_recompute_ctx_.data());
    probs = ws_recompute_probs_.data();
  }
  attention_backward(c, kv, probs, dctx, dqkv);
  rope(dqkv, true);  // a rotation's transpose is the opposite rotation
  bias_grad(lp.bqkv, dqkv, t, qkv);
  linear_backward(be_, c.ln1.data(), w(lp.wqkv), dqkv, gr(lp.wqkv), ws_c_.data(), t, h, qkv);
  dln = reduce_tokens(ws_c_.data(), ws_local_.data());
  float* dx1 = ws_a_.data();
  norm_backward(lp.ln1_g, lp.ln1_b, dln, c.x.data(), c.ln1_mean.data(), c.ln1_rstd.data(), dx1, tl);
  be_.copy(dx, dmid, tlh);
  be_.axpy(dx, 1.0F, dx1, tlh);
}

double GptShard::head_forward(const float* x, std::span<const std::int32_t> targets, HeadCache& c) {
  const i64 t = s_.tokens(), tl = s_.local_tokens(), h = s_.hidden, vl = s_.vocab / s_.tp;
  be_.copy(c.x.data(), x, static_cast<std::size_t>(tl * h));
  float* xf = s_.sp ? ws_local_.data() : c.xf.data();
  norm_forward(lnf_g_, lnf_b_, c.x.data(), xf, c.mean.data(), c.rstd.data(), tl);
  gather_tokens(xf, c.xf.data());
  be_.gemm(false, true, t, vl, h, 1.0F, c.xf.data(), h, w(head_), h, 0.0F, c.logits.data(), vl);
  be_.row_max(c.logits.data(), t, vl, c.max.data());
  if (tp_comm_ != nullptr && s_.tp > 1) tp_comm_->all_reduce_max(c.max.data(), static_cast<std::size_t>(t));
  be_.row_sum_exp(c.logits.data(), c.max.data(), t, vl, c.sum_exp.data());
  all_reduce_tp(c.sum_exp.data(), static_cast<std::size_t>(t));
  float* target = ws_cols_.data();
  be_.pick_targets(c.logits.data(), targets, vl, s_.tp_rank * vl, target);
  all_reduce_tp(target, static_cast<std::size_t>(t));
  host_rows_.resize(static_cast<std::size_t>(3 * t));
  be_.download(host_rows_.data(), c.max.data(), static_cast<std::size_t>(t));
  be_.download(host_rows_.data() + t, c.sum_exp.data(), static_cast<std::size_t>(t));
  be_.download(host_rows_.data() + 2 * t, target, static_cast<std::size_t>(t));
  double loss = 0;
  for (i64 r = 0; r < t; ++r)
    loss += std::log(static_cast<double>(host_rows_[static_cast<std::size_t>(t + r)])) + host_rows_[static_cast<std::size_t>(r)] -
            host_rows_[static_cast<std::size_t>(2 * t + r)];
  return loss;
}

void GptShard::head_backward(std::span<const std::int32_t> targets, float scale, HeadCache& c, float* dx) {
  const i64 t = s_.tokens(), tl = s_.local_tokens(), h = s_.hidden, vl = s_.vocab / s_.tp;
  float* dlogits = ws_c_.data();
  be_.cross_entropy_backward(c.logits.data(), c.max.data(), c.sum_exp.data(), targets, vl, s_.tp_rank * vl, scale,
                             dlogits);
  be_.gemm(true, false, vl, h, t, 1.0F, dlogits, vl, c.xf.data(), h, 1.0F, gr(head_), h);  // dE += dlogits^T xf
  be_.gemm(false, false, t, h, vl, 1.0F, dlogits, vl, w(head_), h, 0.0F, ws_d_.data(), h);
  const float* dxf = reduce_tokens(ws_d_.data(), ws_local_.data());
  norm_backward(lnf_g_, lnf_b_, dxf, c.x.data(), c.mean.data(), c.rstd.data(), dx, tl);
}

}  // namespace hpsim::exec
