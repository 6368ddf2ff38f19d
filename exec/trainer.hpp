#pragma once
/// Runs optimizer steps of a GPT under a plan on this rank: pipeline schedule (GPipe, 1F1B) with activations and
/// gradients sent between stages, tensor (and sequence) parallelism inside the shard, data-parallel gradient
/// reduction in buckets (all-reduce, or ZeRO-1's reduce-scatter + sharded Adam + all-gather), started as each bucket's
/// gradients are complete during the last micro-batch's backward when the plan overlaps it, the tied embedding's
/// all-reduce, Adam.
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "exec/gpt_shard.hpp"
#include "exec/rank_grid.hpp"
#include "models/model_spec.hpp"
#include "planner/pipeline_schedule.hpp"
#include "planner/plan.hpp"

namespace hpsim::exec {

/// Dynamic loss scaling for fp16 (Megatron's DynamicGradScaler): the loss gradient is multiplied by `scale`; a step
/// whose gradients are not all finite (on any rank) is skipped and, after `hysteresis` such steps in a row, the
/// scale is multiplied by `backoff` (not below `min_scale`); after `window` good steps in a row it is multiplied by
/// `growth`. Adam sees the gradients divided by the scale.
struct LossScaling {
  bool enabled = false;
  double initial_scale = 4294967296.0;  ///< 2^32
  double min_scale = 1.0, growth = 2.0, backoff = 0.5;
  std::int64_t window = 1000, hysteresis = 2;
};

/// Knobs of a training run that are not part of the plan.
struct TrainerOptions {
  std::uint64_t seed = 1234;            ///< weights and data
  AdamConfig adam{};
  std::size_t bucket_elements = 1 << 20;  ///< data-parallel reduction bucket (floats; ZeRO: rounded up to dp's multiple)
  CommFactory comm_factory;               ///< device communicators (NCCL) for the groups; null: MPI
  LossScaling loss_scaling;               ///< on for fp16 on the cuda backend (run_plan)
};

/// The tokens of one sample: seq + 1 tokens (inputs are [0, seq), targets [1, seq]), the same for the same
/// (seed, step, global sample) whatever the plan.
/// A trainer's counters between steps. Data and weights come from counter-based generators of (seed, step, index), so
/// `seed` and `step` are the random-number state and the data position. Eight-byte fields only: a checkpoint stores
/// it as it is (exec/checkpoint.cpp).
struct TrainerCounters {
  std::uint64_t seed = 0;
  std::int64_t step = 0;             ///< optimizer steps run (skipped ones included): the data's next step index
  std::int64_t adam_steps = 0;       ///< Adam's step count (bias correction): skipped steps do not count
  double loss_scale = 1.0;           ///< LossScaling's state: scale, steps skipped, good steps in a row, hysteresis
  std::int64_t skipped_steps = 0, good_in_row = 0, hysteresis_left = 0;
};

/// Everything a rank needs to continue training exactly where it stopped, at a step boundary: what a checkpoint
/// holds.
struct TrainerState {
  TrainerCounters counters;
  std::vector<float> params;         ///< the flat fp32 (master) parameter buffer, padding included
  std::vector<float> adam_m, adam_v; ///< Adam's moments as this rank holds them (ZeRO-1: its slice of each bucket)
};

std::vector<std::int32_t> synthetic_sample(std::uint64_t seed, std::int64_t step, std::int64_t sample,
                                           std::int64_t seq, std::int64_t vocab);

class Trainer {
 public:
  /// `plan` must be resolved (dp set, seq_length set) and checked (see run.hpp's resolve_run_plan); `world` has
  /// exactly plan.gpus() ranks. Collective over `world`.
  Trainer(const models::ModelSpec& model, const planner::Plan& plan, ComputeBackend& backend, MPI_Comm world,
          const TrainerOptions& options = {});
  /// One optimizer step over the global batch; returns the mean token loss (the same on every rank).
  double step();
  [[nodiscard]] GptShard& shard() { return *shard_; }
  [[nodiscard]] RankGrid& grid() { return grid_; }
  [[nodiscard]] std::int64_t steps_done() const { return step_; }
  /// This rank's state between steps (copied from the device), and its restoration: a trainer of the same model,
  /// plan, rank and seed then continues bit for bit as the one saved would have. Throws std::invalid_argument when
  /// the state's sizes or seed are not this trainer's.
  [[nodiscard]] TrainerState save_state() const;
  void load_state(const TrainerState& state);
  /// The loss scale the next step uses (1 without loss scaling) and the steps skipped for overflow so far.
  [[nodiscard]] double loss_scale() const { return scale_; }
  [[nodiscard]] std::int64_t skipped_steps() const { return skipped_; }
  /// Data-parallel buckets of the last step, and how many of them started reducing during the backward (overlap).
  [[nodiscard]] std::size_t buckets() const { return buckets_.size(); }
  [[nodiscard]] std::size_t buckets_overlapped() const { return overlapped_; }
  /// Micro-batches whose activations model chunk `chunk` keeps at once (what the schedule has in flight: 1F1B's
  /// pp - stage, GPipe's all): the activation buffers allocated, reused as backward passes free them.
  [[nodiscard]] std::size_t activation_slots(int chunk) const { return pool_[static_cast<std::size_t>(chunk)].size(); }

 private:
  struct Micro {
    std::vector<std::int32_t> tokens, targets;
    std::vector<Buffer> out, grad;  ///< per model chunk: its output activation, the gradient flowing back
    std::vector<std::size_t> slot;  ///< per model chunk: its activations' entry in pool_ while in flight
    double loss = 0;
  };
  /// What one micro-batch's forward through one model chunk keeps for its backward.
  struct Activations {
    std::vector<LayerCache> layers;
    HeadCache head;  ///< the last virtual stage's
  };
  void load_batch(Micro& m, std::int64_t micro_index);
  void forward(Micro& m, int index, int chunk);
  void backward(Micro& m, int index, int chunk);
  void reduce_and_update();
  /// The gradients of flat range `r` are complete for this step: a bucket whose every parameter is complete starts
  /// its reduction now when the plan overlaps it.
  void gradients_complete(GptShard::Range r);
  void start_reduction(std::size_t bucket);
  /// Loss scaling: whether every rank's reduced gradients are finite (`local_finite` checks this rank's); updates the
  /// scale and counts the optimizer step. True without scaling (the check is then not run).
  bool gradients_finite(const std::function<bool()>& local_finite);

  planner::Plan plan_;
  ComputeBackend& be_;
  RankGrid grid_;
  TrainerOptions opt_;
  std::unique_ptr<GptShard> shard_;
  std::vector<Micro> micro_;
  std::vector<planner::PipelinePass> order_;      ///< this rank's forward and backward passes, in order
  std::vector<std::vector<Activations>> pool_;    ///< per model chunk
  std::vector<std::vector<std::size_t>> free_;    ///< per model chunk: unused entries of pool_
  LayerCache scratch_;  ///< full cache for recomputation
  Buffer scratch_out_;
  bool recompute_ = false;
  Buffer m_, v_, shard_grad_, shard_param_;
  /// Data-parallel buckets of the flat gradient buffer; with ZeRO-1 each is sharded dp ways (this rank's slice at
  /// first + dp rank * size / dp), its slice at `shard_first` in the shard buffers.
  struct Bucket {
    std::size_t first = 0, size = 0, shard_first = 0;
    std::size_t incomplete = 0;  ///< parameter elements whose gradients are not complete yet this step
    bool started = false;
  };
  std::vector<Bucket> buckets_;
  std::vector<std::int64_t> backward_left_;  ///< per model chunk: backward passes still to run this step
  bool overlap_ = false;
  std::size_t overlapped_ = 0;
  CommBackend* embedding_sync_ = nullptr;  ///< the tied embedding's group while its all-reduce is still to come
  std::int64_t step_ = 0;       ///< steps run (the data's step index)
  std::int64_t adam_steps_ = 0; ///< optimizer steps taken (Adam's bias correction): skipped steps do not count
  double scale_ = 1.0;
  std::int64_t skipped_ = 0, good_in_row_ = 0, hysteresis_left_ = 0;
};

}  // namespace hpsim::exec
