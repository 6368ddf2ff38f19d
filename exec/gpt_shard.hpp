#pragma once
/// One rank's shard of a GPT-style decoder (its pipeline stage's layers, its tensor-parallel slice) and the
/// hand-written forward and backward of each piece: vocab-parallel embedding, transformer layer, final norm +
/// vocab-parallel LM head (tied or not) with vocab-parallel cross-entropy. GPT's LayerNorm, GELU MLP, learned
/// positions and biases, or LLaMA's RMSNorm, SwiGLU MLP, rotary positions, no biases and grouped-query attention.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "exec/comm_backend.hpp"
#include "exec/compute_backend.hpp"
#include "exec/seeded_random.hpp"
#include "models/model_spec.hpp"

namespace hpsim::exec {

/// How a parameter's full matrix [rows, cols] is cut over tensor-parallel ranks.
enum class Split {
  none,         ///< replicated (LayerNorm, row-parallel biases, positions)
  columns,      ///< column-parallel weight or its bias: columns [r*cols/tp, (r+1)*cols/tp)
  rows,         ///< row-parallel weight, vocab-parallel embedding: rows [r*rows/tp, ...)
  block_columns,  ///< column blocks side by side ([Wq | Wk | Wv], SwiGLU's [gate | up]): each block split over tp
};

/// One parameter tensor of a shard: its identity in the full model and where it sits in the flat buffer.
struct ParamInfo {
  std::string name;
  std::int64_t id = 0;          ///< same id = same full tensor (the tied LM head has the embedding's id)
  std::int64_t rows = 0, cols = 0;  ///< full shape
  Split split = Split::none;
  std::vector<std::int64_t> blocks;  ///< block_columns: each block's full width (they sum to cols)
  std::int64_t local_rows = 0, local_cols = 0;
  std::size_t offset = 0;       ///< in the flat parameter (and gradient) buffer
  float init_std = 0;           ///< > 0: normal(0, std); else the constant init_value
  float init_value = 0;
  /// Replicated over tp but its gradient sums over the tokens, which sequence parallelism splits over the tp ranks
  /// (LayerNorms, row-parallel biases): with SP each rank holds a partial gradient, all-reduced over tp.
  bool sums_over_tokens = false;
  [[nodiscard]] std::size_t local_size() const { return static_cast<std::size_t>(local_rows * local_cols); }
  /// Index in the full row-major matrix of local element `i` on tensor-parallel rank `tp_rank` of `tp`.
  [[nodiscard]] std::int64_t global_index(std::int64_t i, std::int64_t tp_rank, std::int64_t tp) const;
};

/// The shape of a shard.
struct ShardShape {
  std::int64_t hidden = 0, heads = 0, ffn = 0, vocab = 0, seq = 0, micro_batch = 1;
  std::int64_t kv_heads = 0;  ///< key/value heads (grouped-query attention); 0: as many as heads
  bool rmsnorm = false;       ///< RMSNorm (no beta) instead of LayerNorm
  bool swiglu = false;        ///< SwiGLU MLP (fc1 = [gate | up], 2 ffn wide) instead of GELU
  bool rope = false;          ///< rotary positions on q and k instead of a learned position table
  float rope_base = 10000.0F;
  bool bias = true;           ///< biases on the linear layers
  bool tied = true;           ///< the LM head is the word embedding
  [[nodiscard]] std::int64_t kv() const { return kv_heads > 0 ? kv_heads : heads; }
  std::int64_t tp = 1, tp_rank = 0;
  /// Context parallelism (Megatron's, load-balanced): each sample's sequence in 2 cp chunks, this rank holding chunks
  /// cp_rank and 2 cp - 1 - cp_rank; attention all-gathers the keys and values over the cp ranks.
  std::int64_t cp = 1, cp_rank = 0;
  std::int64_t first_layer = 0, num_layers = 0;  ///< global index of this stage's first layer, its layer count
  /// Interleaved pipeline: the local layers are `chunks` model chunks of num_layers / chunks layers each, chunk c
  /// starting at global layer first_layer + c * chunk_stride.
  std::int64_t chunks = 1, chunk_stride = 0;
  [[nodiscard]] std::int64_t global_layer(std::int64_t l) const {
    const std::int64_t per_chunk = num_layers / chunks;
    return first_layer + (l / per_chunk) * chunk_stride + l % per_chunk;
  }
  std::int64_t total_layers = 0;
  bool first_stage = true, last_stage = true;  ///< holds the embedding (first virtual stage), the head (last)
  /// Sequence parallelism: the residual stream (between the tensor-parallel blocks) holds tokens() / tp tokens per
  /// rank, rank r the r-th contiguous block of the micro-batch's tokens.
  bool sp = false;
  [[nodiscard]] std::int64_t local_seq() const { return seq / cp; }  ///< this rank's positions of each sample
  /// The rank's positions of a sample in `halves()` runs of local_seq() / halves(): run k starts at first_position(k).
  [[nodiscard]] std::int64_t halves() const { return cp > 1 ? 2 : 1; }
  [[nodiscard]] std::int64_t first_position(std::int64_t k) const {
    const std::int64_t chunk = seq / (2 * cp);
    return cp == 1 ? 0 : (k == 0 ? cp_rank : 2 * cp - 1 - cp_rank) * chunk;
  }
  [[nodiscard]] std::int64_t tokens() const { return micro_batch * local_seq(); }
  /// Tokens of the residual stream on this rank: what layers take and return, and pipeline stages exchange.
  [[nodiscard]] std::int64_t local_tokens() const { return sp ? tokens() / tp : tokens(); }
};

/// Activations a layer's backward needs (all of them; with full recomputation only `x` is kept; with selective
/// recomputation everything but `probs`, the attention core being re-run in backward). With SP, x, mid and the
/// LayerNorm statistics hold the rank's local tokens; ln1 and ln2 hold the all-gathered LayerNorm outputs that
/// the column-parallel GEMMs take, so backward need not gather them again.
struct LayerCache {
  Buffer x, ln1, ln1_mean, ln1_rstd, qkv, probs, ctx, mid, ln2, ln2_mean, ln2_rstd, h1, g;  ///< h1: fc1's output
};

/// What the head's backward needs (with SP: x, mean and rstd local; xf all-gathered).
struct HeadCache {
  Buffer x, xf, mean, rstd, logits, max, sum_exp;
};

class GptShard {
 public:
  /// Parameters initialized from `seed` identically whatever the split. The flat buffer is padded to a multiple of
  /// `pad_multiple` (ZeRO-1 shards it evenly). `tp_comm` may be null when tp == 1.
  GptShard(const ShardShape& shape, ComputeBackend& backend, CommBackend* tp_comm, std::uint64_t seed,
           std::size_t pad_multiple = 1, CommBackend* cp_comm = nullptr);

  [[nodiscard]] const ShardShape& shape() const { return s_; }
  [[nodiscard]] const std::vector<ParamInfo>& params() const { return params_; }
  [[nodiscard]] float* param_data() const { return weights_.data(); }
  [[nodiscard]] float* grad_data() const { return grads_.data(); }
  /// Padded element count of the flat parameter and gradient buffers.
  [[nodiscard]] std::size_t flat_size() const { return weights_.size(); }
  /// Elements of the flat buffers that hold parameters: [0, param_elements()) (the rest is padding).
  [[nodiscard]] std::size_t param_elements() const { return total_; }
  /// Flat ranges [first, last) of the parameters whose gradients a piece of the backward completes (in its last
  /// micro-batch): local layer l's, the head's (final norm, and an LM head of its own), the embedding's (word table,
  /// position table). Empty ranges where the stage has no such piece.
  using Range = std::pair<std::size_t, std::size_t>;
  [[nodiscard]] Range layer_range(std::int64_t l) const { return layer_ranges_[static_cast<std::size_t>(l)]; }
  [[nodiscard]] Range head_range() const { return head_range_; }
  [[nodiscard]] Range embedding_range() const { return embedding_range_; }
  /// The parameter with this name, or null.
  [[nodiscard]] const ParamInfo* find(const std::string& name) const;
  /// Offset and size of the word-embedding copy (first stage's table or the last stage's tied head); size 0 if none
  /// (or an untied head alone).
  [[nodiscard]] std::pair<std::size_t, std::size_t> word_embedding_range() const;

  /// full: every activation (else only `x`); keep_probs = false: no `probs` (selective recomputation: the
  /// attention core, QK^T, causal softmax and AV, is recomputed in layer_backward).
  [[nodiscard]] LayerCache make_layer_cache(bool full, bool keep_probs = true) const;
  [[nodiscard]] HeadCache make_head_cache() const;

  /// out [T_local, H] = embedding of tokens (T = micro_batch * seq) plus positions, all-reduced over tp
  /// (reduce-scattered with SP).
  void embedding_forward(std::span<const std::int32_t> tokens, float* out);
  void embedding_backward(std::span<const std::int32_t> tokens, const float* dout);
  /// Layer `l` (local index) forward on [T_local, H]; keeps a copy of x and every intermediate in `cache`.
  void layer_forward(std::int64_t l, const float* x, float* out, LayerCache& cache);
  /// Layer backward from the cache; dx may alias dout. Gradients accumulate.
  void layer_backward(std::int64_t l, const float* dout, float* dx, LayerCache& cache);
  /// Final LayerNorm, logits, cross-entropy: returns the sum over this micro-batch's tokens of the token losses.
  double head_forward(const float* x, std::span<const std::int32_t> targets, HeadCache& cache);
  /// dx [T_local, H] of the head's input for a loss scaled by `scale` per token.
  void head_backward(std::span<const std::int32_t> targets, float scale, HeadCache& cache, float* dx);
  /// With SP: all-reduces over tp the partial gradients of the parameters that sum over tokens (one packed
  /// all-reduce, as Megatron does after the backward). Nothing without SP.
  void reduce_sequence_parallel_grads();

 private:
  static constexpr std::size_t kNone = SIZE_MAX;  ///< a parameter this model does not have (a bias, a norm's beta)
  struct LayerParams {
    std::size_t ln1_g, ln1_b, wqkv, bqkv, wo, bo, ln2_g, ln2_b, w1, b1, w2, b2;
  };
  std::size_t add(const std::string& name, std::int64_t id, std::int64_t rows, std::int64_t cols, Split split,
                  float std, float value, std::vector<std::int64_t> blocks = {});
  void norm_forward(std::size_t gamma, std::size_t beta, const float* x, float* y, float* mean, float* rstd,
                    std::int64_t rows);
  void norm_backward(std::size_t gamma, std::size_t beta, const float* dy, const float* x, const float* mean,
                     const float* rstd, float* dx, std::int64_t rows);
  void add_bias(std::size_t bias, float* y, std::int64_t rows, std::int64_t cols);
  void bias_grad(std::size_t bias, const float* dy, std::int64_t rows, std::int64_t cols);
  /// Rotary positions on this rank's q and k heads of qkv [T, qkv width] (inverse: on their gradients).
  void rope(float* qkv, bool inverse);
  [[nodiscard]] std::int64_t qkv_width() const;  ///< local: (heads + 2 kv heads) / tp * head_dim
  [[nodiscard]] std::int64_t fc1_width() const;  ///< local: ffn / tp, twice that for SwiGLU
  float* w(std::size_t i) const { return weights_.data() + params_[i].offset; }
  float* gr(std::size_t i) const { return grads_.data() + params_[i].offset; }
  void all_reduce_tp(float* x, std::size_t n);
  /// Sums a partial [T, H] over tp into this rank's tokens: reduce-scatter into `local` with SP (returns it), else an
  /// all-reduce in place (returns `partial`).
  float* reduce_tokens(float* partial, float* local);
  /// This rank's tokens [T_local, H] gathered to [T, H] into `full` with SP (returns it); else returns `local`.
  const float* gather_tokens(const float* local, float* full);
  /// Where attention reads the keys and values of a layer (or writes their gradients): this rank's qkv rows without
  /// CP; with it, every position's, gathered over the cp ranks in sequence order.
  struct KeyValues {
    float* k;
    float* v;
    std::int64_t ld, sample_stride;
  };
  KeyValues key_values(float* qkv);
  /// With CP: gathers the layer's keys and values of all positions into ws_kv_all_.
  void gather_key_values(const float* qkv);
  /// With CP: sums the key and value gradients of all positions (ws_dkv_all_) over the cp ranks into dqkv's rows.
  void reduce_key_value_grads(float* dqkv);
  void attention_forward(const LayerCache& c, const KeyValues& kv, float* probs, float* ctx);
  void attention_backward(LayerCache& c, const KeyValues& kv, const float* probs, const float* dctx, float* dqkv);

  ShardShape s_;
  ComputeBackend& be_;
  CommBackend* tp_comm_;
  CommBackend* cp_comm_;
  std::vector<ParamInfo> params_;
  std::vector<LayerParams> layers_;
  std::vector<Range> layer_ranges_;
  Range head_range_{0, 0}, embedding_range_{0, 0};
  std::size_t word_ = kNone, pos_ = kNone, lnf_g_ = kNone, lnf_b_ = kNone, head_ = kNone;
  std::size_t total_ = 0;
  Buffer weights_, grads_;
  Buffer ws_a_, ws_b_, ws_c_, ws_d_, ws_probs_, ws_cols_;  // workspaces ([T, ...])
  Buffer ws_local_, ws_dmid_;                              // [T_local, H]
  Buffer ws_sp_grads_;                                     // packed token-summed gradients (SP)
  Buffer ws_kv_local_, ws_kv_gathered_, ws_kv_all_, ws_dkv_all_;  // CP: keys and values, packed, gathered, ordered
  Buffer ws_recompute_probs_, ws_recompute_ctx_;            // selective recomputation (allocated on first use)
  std::vector<float> host_rows_;
};


}  // namespace hpsim::exec
