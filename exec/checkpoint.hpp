#pragma once
/// Checkpoints of a run (`hpsim run --checkpoint-every N --checkpoint-dir D`, `--resume D`): each rank's
/// TrainerState in its own versioned binary file, written atomically, and a manifest that makes a step complete.
/// Format and guarantees: exec/README.md ("Checkpoints").
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "exec/executed_run.hpp"
#include "exec/trainer.hpp"

namespace hpsim::exec {

/// 64-bit FNV-1a of `n` bytes, continuing from `h` (the offset basis by default): the shards' checksum.
std::uint64_t fnv1a64(const void* data, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ULL);

/// What a checkpoint must match to be resumed: every field that shapes the training (the executed plan's keys, the
/// model's architecture, the seed, the backend) as (key, value) text, and their hash.
struct RunIdentity {
  std::vector<std::pair<std::string, std::string>> fields;
  [[nodiscard]] std::uint64_t fingerprint() const;
};
RunIdentity run_identity(const ExecutedRun& run, std::uint64_t seed, const std::string& backend);

/// One rank's file as the manifest records it.
struct ShardRecord {
  std::uint64_t bytes = 0;
  std::uint64_t checksum = 0;  ///< fnv1a64 of the whole file
};

/// `dir`/step-<step> (zero-padded to 8 digits so that names sort by step).
std::string checkpoint_step_dir(const std::string& dir, std::int64_t step);

/// Writes this rank's shard of step `state.step` as `step_dir`/rank-<rank>.bin: to a temporary name, fsynced, then
/// renamed (a reader never sees half a file under the final name). Creates `step_dir`. `fault` (tests only: see
/// fault_injection.hpp) may end the process halfway through the temporary file.
ShardRecord write_checkpoint_shard(const std::string& step_dir, int rank, int ranks, std::uint64_t fingerprint,
                                   const TrainerState& state);

/// Writes `step_dir`/manifest.json (temporary name, fsync, rename, fsync of the directory) once every shard is on
/// disk: from then on the step is complete.
void write_checkpoint_manifest(const std::string& step_dir, std::int64_t step, const RunIdentity& identity,
                               const std::vector<ShardRecord>& shards);

/// The newest complete checkpoint of a directory, and the steps passed over on the way.
struct ResumePoint {
  std::string step_dir;                 ///< empty: none is complete
  std::int64_t step = 0;
  std::vector<std::string> skipped;     ///< "step-00000006: <why>" for each newer, torn one (never loaded)
  std::vector<std::pair<std::string, std::string>> fields;  ///< the checkpointed run's identity
  std::uint64_t fingerprint = 0;
  int ranks = 0;
  std::vector<ShardRecord> shards;
};
/// Scans `dir` for step-* directories, newest first: a step is complete when its manifest parses with this format
/// and version and every shard it lists exists with its size and checksum. Throws core::InputError when `dir` is
/// not a readable directory.
ResumePoint find_resume_point(const std::string& dir);

/// The manifest of `dir`'s step `step`, which another rank found complete (its shards are checked as they load).
ResumePoint resume_point_at(const std::string& dir, std::int64_t step);

/// Empty when `point` may be resumed by a run of `identity` on `ranks` ranks; else what differs (one line).
std::string resume_mismatch(const ResumePoint& point, const RunIdentity& identity, int ranks);

/// Collective over `world`: writes every rank's shard of `trainer`'s state into `dir`/step-<k> (a stale directory of
/// that step, from a run that died, is removed first), then rank 0 writes the manifest; returns once it is on disk.
void write_checkpoint(const Trainer& trainer, const std::string& dir, const RunIdentity& identity, MPI_Comm world);

/// Reads and checks this rank's shard of `point` (its manifest size and checksum, magic, version, rank count,
/// fingerprint). Throws core::InputError naming the file and what is wrong.
TrainerState read_checkpoint_shard(const ResumePoint& point, int rank);

}  // namespace hpsim::exec
