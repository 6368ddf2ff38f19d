#include "exec/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "exec/comm_wait.hpp"
#include "exec/fault_injection.hpp"
#include "exec/mpi_comm.hpp"
#include "planner/plan_fields.hpp"

namespace hpsim::exec {

namespace fs = std::filesystem;

namespace {

// A shard file: this header, then the parameters, Adam's m and v as raw little-endian floats (the hosts the
// executor runs on). The version changes with any change of layout; a reader refuses other versions.
constexpr char kMagic[8] = {'H', 'P', 'S', 'I', 'M', 'C', 'K', 'P'};
constexpr std::uint32_t kVersion = 1;
constexpr const char* kManifest = "manifest.json";
constexpr const char* kManifestFormat = "hpsim-checkpoint";

/// Fixed-size fields only (no padding: 4-byte fields in pairs, then 8-byte ones).
struct ShardHeader {
  char magic[8];
  std::uint32_t version, rank, ranks, reserved;
  std::uint64_t fingerprint;
  TrainerCounters counters;  ///< seed, step, Adam steps, loss scale, skipped steps, good steps in a row, hysteresis
  std::uint64_t params, adam_m, adam_v;  ///< element counts
};
static_assert(sizeof(ShardHeader) == 8 + 4 * 4 + 8 + 7 * 8 + 3 * 8, "the shard header has no padding");

std::string hex(std::uint64_t v) { return fmt::format("{:016x}", v); }

std::string shard_name(int rank) { return fmt::format("rank-{}.bin", rank); }

[[noreturn]] void io_failure(const std::string& what, const std::string& path) {
  throw std::runtime_error("checkpoint: " + what + " " + path + ": " + std::strerror(errno));
}

/// Writes `bytes` to `path` through a temporary name in the same directory: write, fsync, rename, fsync the
/// directory. `halfway` runs after half the bytes (the test-only fault injection's torn write).
void write_atomically(const std::string& path, const std::vector<char>& bytes, const std::function<void()>& halfway) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) io_failure("cannot create", tmp);
  std::size_t done = 0;
  auto write_until = [&](std::size_t end) {
    while (done < end) {
      const ssize_t w = ::write(fd, bytes.data() + done, end - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) io_failure("cannot write", tmp);
      done += static_cast<std::size_t>(w);
    }
  };
  write_until(bytes.size() / 2);
  if (halfway) {
    ::fsync(fd);
    halfway();
  }
  write_until(bytes.size());
  if (::fsync(fd) != 0) io_failure("cannot fsync", tmp);
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) io_failure("cannot rename to", path);
  const int dir = ::open(fs::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {  // the rename itself durable
    ::fsync(dir);
    ::close(dir);
  }
}

std::vector<char> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

template <class T>
void append(std::vector<char>& out, const T* data, std::size_t n) {
  const auto* p = reinterpret_cast<const char*>(data);
  out.insert(out.end(), p, p + n * sizeof(T));
}

/// Reads `step_dir`'s manifest into `point`: why it cannot be used, or "".
std::string read_manifest(const fs::path& step_dir, ResumePoint& point) {
  const fs::path manifest = step_dir / kManifest;
  if (!fs::exists(manifest)) return "no manifest.json (the write did not finish)";
  try {
    const nlohmann::json j = nlohmann::json::parse(read_file(manifest));
    if (j.at("format") != kManifestFormat) return "manifest.json: not an hpsim checkpoint manifest";
    if (j.at("version") != kVersion)
      return fmt::format("manifest.json: version {}, this hpsim reads version {}", j.at("version").dump(), kVersion);
    point.step = j.at("step").get<std::int64_t>();
    point.ranks = j.at("ranks").get<int>();
    point.fingerprint = std::stoull(j.at("plan_fingerprint").get<std::string>(), nullptr, 16);
    point.fields.clear();
    for (const auto& [k, v] : j.at("run").items()) point.fields.emplace_back(k, v.get<std::string>());
    point.shards.clear();
    for (const auto& s : j.at("shards"))
      point.shards.push_back({s.at("bytes").get<std::uint64_t>(),
                              std::stoull(s.at("fnv1a64").get<std::string>(), nullptr, 16)});
  } catch (const std::exception& e) {
    return std::string("manifest.json does not parse: ") + e.what();
  }
  if (static_cast<int>(point.shards.size()) != point.ranks)
    return fmt::format("manifest.json lists {} shards for {} ranks", point.shards.size(), point.ranks);
  point.step_dir = step_dir.string();
  return "";
}

/// Why a step directory is not complete, or "" when it is (fills `point`).
std::string check_complete(const fs::path& step_dir, std::int64_t step, ResumePoint& point) {
  if (std::string why = read_manifest(step_dir, point); !why.empty()) return why;
  if (point.step != step) return fmt::format("manifest.json says step {}", point.step);
  for (int r = 0; r < point.ranks; ++r) {
    const fs::path shard = step_dir / shard_name(r);
    const ShardRecord& want = point.shards[static_cast<std::size_t>(r)];
    std::error_code ec;
    const auto size = fs::file_size(shard, ec);
    if (ec) return shard_name(r) + " is missing";
    if (size != want.bytes) return fmt::format("{} has {} bytes, the manifest says {}", shard_name(r), size, want.bytes);
    const auto bytes = read_file(shard);
    const std::uint64_t sum = fnv1a64(bytes.data(), bytes.size());
    if (sum != want.checksum)
      return shard_name(r) + ": checksum mismatch (fnv1a64 " + hex(sum) + ", the manifest says " + hex(want.checksum) +
             ")";
  }
  return "";
}

}  // namespace

std::uint64_t fnv1a64(const void* data, std::size_t n, std::uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::uint64_t RunIdentity::fingerprint() const {
  std::uint64_t h = fnv1a64("hpsim-run-identity", 18);
  for (const auto& [k, v] : fields) {
    h = fnv1a64(k.data(), k.size(), h);
    h = fnv1a64("=", 1, h);
    h = fnv1a64(v.data(), v.size(), h);
    h = fnv1a64("\n", 1, h);
  }
  return h;
}

RunIdentity run_identity(const ExecutedRun& run, std::uint64_t seed, const std::string& backend) {
  RunIdentity id;
  auto add = [&](const std::string& k, const std::string& v) { id.fields.emplace_back(k, v); };
  for (const auto& f : planner::plan_field_table()) add(std::string(f.key), planner::field_value_text(f, f.get(run.plan)));
  const auto& m = run.model;
  add("model.num_hidden_layers", std::to_string(m.num_layers));
  add("model.hidden_size", std::to_string(m.hidden_size));
  add("model.num_attention_heads", std::to_string(m.num_heads));
  add("model.num_key_value_heads", std::to_string(m.num_kv_heads));
  add("model.intermediate_size", std::to_string(m.ffn_hidden_size));
  add("model.vocab_size", std::to_string(m.vocab_size));
  add("model.norm", m.norm == models::NormKind::rmsnorm ? "rmsnorm" : "layernorm");
  add("model.mlp", std::to_string(static_cast<int>(m.mlp)));  // models::MlpKind
  add("model.position_embedding", m.position == models::PositionKind::rope ? "rope" : "learned");
  add("model.linear_bias", m.linear_bias ? "true" : "false");
  add("model.tie_word_embeddings", m.tie_embeddings ? "true" : "false");
  add("seed", std::to_string(seed));
  add("backend", backend);
  return id;
}

std::string checkpoint_step_dir(const std::string& dir, std::int64_t step) {
  return (fs::path(dir) / fmt::format("step-{:08d}", step)).string();
}

ShardRecord write_checkpoint_shard(const std::string& step_dir, int rank, int ranks, std::uint64_t fingerprint,
                                   const TrainerState& s) {
  ShardHeader h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.rank = static_cast<std::uint32_t>(rank);
  h.ranks = static_cast<std::uint32_t>(ranks);
  h.fingerprint = fingerprint;
  h.counters = s.counters;
  h.params = s.params.size();
  h.adam_m = s.adam_m.size();
  h.adam_v = s.adam_v.size();
  std::vector<char> bytes;
  bytes.reserve(sizeof h + (s.params.size() + s.adam_m.size() + s.adam_v.size()) * sizeof(float));
  append(bytes, &h, 1);
  append(bytes, s.params.data(), s.params.size());
  append(bytes, s.adam_m.data(), s.adam_m.size());
  append(bytes, s.adam_v.data(), s.adam_v.size());
  std::error_code ec;
  fs::create_directories(step_dir, ec);  // every rank: whoever comes first makes it
  if (!fs::is_directory(step_dir)) throw std::runtime_error("checkpoint: cannot create " + step_dir);
  const FaultInjection fault = FaultInjection::from_environment();
  write_atomically((fs::path(step_dir) / shard_name(rank)).string(), bytes,
                   [&] { fault.strike_if(FaultKind::checkpoint, rank, s.counters.step); });
  return {bytes.size(), fnv1a64(bytes.data(), bytes.size())};
}

void write_checkpoint_manifest(const std::string& step_dir, std::int64_t step, const RunIdentity& identity,
                               const std::vector<ShardRecord>& shards) {
  nlohmann::json j;
  j["format"] = kManifestFormat;
  j["version"] = kVersion;
  j["step"] = step;
  j["ranks"] = shards.size();
  j["plan_fingerprint"] = hex(identity.fingerprint());
  j["run"] = nlohmann::json::object();
  for (const auto& [k, v] : identity.fields) j["run"][k] = v;
  j["shards"] = nlohmann::json::array();
  for (std::size_t r = 0; r < shards.size(); ++r)
    j["shards"].push_back(
        {{"file", shard_name(static_cast<int>(r))}, {"bytes", shards[r].bytes}, {"fnv1a64", hex(shards[r].checksum)}});
  const std::string text = j.dump(1) + "\n";
  write_atomically((fs::path(step_dir) / kManifest).string(), std::vector<char>(text.begin(), text.end()), {});
}

void write_checkpoint(const Trainer& trainer, const std::string& dir, const RunIdentity& identity, MPI_Comm world) {
  int rank = 0, ranks = 1;
  check_mpi(MPI_Comm_rank(world, &rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(world, &ranks), "MPI_Comm_size");
  const TrainerState state = trainer.save_state();
  const std::string step_dir = checkpoint_step_dir(dir, state.counters.step);
  if (rank == 0 && fs::exists(step_dir)) {  // a torn one of an earlier attempt: its manifest goes first
    fs::remove(fs::path(step_dir) / kManifest);
    fs::remove_all(step_dir);
  }
  {
    const CommunicationWait waiting;
    check_mpi(MPI_Barrier(world), "MPI_Barrier");
  }
  const ShardRecord mine = write_checkpoint_shard(step_dir, rank, ranks, identity.fingerprint(), state);
  const std::uint64_t record[2] = {mine.bytes, mine.checksum};
  std::vector<std::uint64_t> all(2 * static_cast<std::size_t>(ranks));
  {
    const CommunicationWait waiting;  // every shard on disk before the manifest
    check_mpi(MPI_Gather(record, 2, MPI_UINT64_T, all.data(), 2, MPI_UINT64_T, 0, world), "MPI_Gather");
  }
  if (rank == 0) {
    std::vector<ShardRecord> shards;
    for (std::size_t r = 0; r < all.size(); r += 2) shards.push_back({all[r], all[r + 1]});
    write_checkpoint_manifest(step_dir, state.counters.step, identity, shards);
  }
  const CommunicationWait waiting;  // complete before any rank goes on (a failure after it loses nothing)
  check_mpi(MPI_Barrier(world), "MPI_Barrier");
}

ResumePoint find_resume_point(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw core::InputError(dir, "--resume", "not a directory (expected a --checkpoint-dir of an earlier run)");
  std::vector<std::pair<std::int64_t, fs::path>> steps;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name.rfind("step-", 0) != 0 || name.size() == 5 ||
        name.find_first_not_of("0123456789", 5) != std::string::npos)
      continue;
    steps.emplace_back(std::stoll(name.substr(5)), e.path());
  }
  if (ec) throw core::InputError(dir, "--resume", std::string("cannot be read: ") + ec.message());
  std::sort(steps.begin(), steps.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  ResumePoint point;
  for (const auto& [step, path] : steps) {
    const std::string why = check_complete(path, step, point);
    if (why.empty()) return point;
    point.step_dir.clear();
    point.skipped.push_back(path.filename().string() + ": " + why);
  }
  return point;
}

ResumePoint resume_point_at(const std::string& dir, std::int64_t step) {
  ResumePoint point;
  const std::string path = checkpoint_step_dir(dir, step);
  if (std::string why = read_manifest(path, point); !why.empty()) throw core::InputError(path, "--resume", why);
  return point;
}

std::string resume_mismatch(const ResumePoint& point, const RunIdentity& identity, int ranks) {
  if (point.ranks != ranks)
    return fmt::format("{} ranks in the checkpoint, {} in this run", point.ranks, ranks);
  if (point.fingerprint == identity.fingerprint()) return "";
  for (const auto& [key, value] : identity.fields) {
    const auto it = std::find_if(point.fields.begin(), point.fields.end(), [&](const auto& f) { return f.first == key; });
    if (it == point.fields.end()) return key + " is not in the checkpoint (" + value + " in this run)";
    if (it->second != value) return key + " " + it->second + " in the checkpoint, " + value + " in this run";
  }
  return fmt::format("plan fingerprint {} in the checkpoint, {} in this run", hex(point.fingerprint),
                     hex(identity.fingerprint()));
}

TrainerState read_checkpoint_shard(const ResumePoint& point, int rank) {
  const std::string path = (fs::path(point.step_dir) / shard_name(rank)).string();
  auto fail = [&](const std::string& what) { throw core::InputError(path, "checkpoint", what); };
  if (rank < 0 || rank >= point.ranks) fail("no shard for this rank");
  const auto bytes = read_file(path);
  const ShardRecord& want = point.shards[static_cast<std::size_t>(rank)];
  if (bytes.size() != want.bytes || fnv1a64(bytes.data(), bytes.size()) != want.checksum)
    fail("size or checksum differs from the manifest's (changed since it was checked)");
  ShardHeader h{};
  if (bytes.size() < sizeof h) fail("shorter than its header");
  std::memcpy(&h, bytes.data(), sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) fail("not an hpsim checkpoint shard (magic)");
  if (h.version != kVersion) fail(fmt::format("format version {}, this hpsim reads version {}", h.version, kVersion));
  if (static_cast<int>(h.rank) != rank || static_cast<int>(h.ranks) != point.ranks || h.fingerprint != point.fingerprint ||
      h.counters.step != point.step)
    fail("its header (rank, ranks, fingerprint, step) disagrees with the manifest");
  if (bytes.size() != sizeof h + (h.params + h.adam_m + h.adam_v) * sizeof(float))
    fail("its size disagrees with its header's element counts");
  TrainerState s;
  s.counters = h.counters;
  const char* p = bytes.data() + sizeof h;
  auto take = [&](std::vector<float>& out, std::uint64_t n) {
    out.resize(n);
    std::memcpy(out.data(), p, n * sizeof(float));
    p += n * sizeof(float);
  };
  take(s.params, h.params);
  take(s.adam_m, h.adam_m);
  take(s.adam_v, h.adam_v);
  return s;
}

}  // namespace hpsim::exec
