#include "apps/localhost_cluster.hpp"

#include <cstdlib>
#include <filesystem>
#include <optional>

#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "core/fields.hpp"
#include "topologies/calibration.hpp"

namespace hpsim::apps {

std::string cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && *xdg != '\0') return (std::filesystem::path(xdg) / "hpsim").string();
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') return (std::filesystem::path(home) / ".cache" / "hpsim").string();
  return ".hpsim-cache";
}

std::string localhost_cache_file() { return (std::filesystem::path(cache_dir()) / "localhost.yaml").string(); }

namespace {

/// The `calibration:` block of `file`; nothing when the file is unreadable, is no calibration, or was written by an
/// older hpsim calibrate (no block): what it measured is unknown.
std::optional<topologies::Calibration> calibration_of(const std::string& file) {
  if (!core::is_file(file)) return std::nullopt;
  try {
    const YAML::Node n = core::load_yaml_file(file);
    if (!n.IsMap() || !n["calibration"]) return std::nullopt;
    return topologies::calibration_from_fields(core::Fields(n["calibration"], file + ": calibration"));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

int calibrated_ranks(const std::string& file) {
  const auto c = calibration_of(file);
  return c ? static_cast<int>(c->ranks) : 0;
}

std::string calibrated_backend(const std::string& file) {
  const auto c = calibration_of(file);
  return c ? c->backend : "";
}

std::string localhost_cache_file(int ranks, const std::string& backend) {
  const std::string shared = localhost_cache_file();
  // A GPU calibration in the shared file does not describe the CPU executor, nor a CPU one the GPUs.
  if (calibrated_ranks(shared) == ranks && calibrated_backend(shared) == backend) return shared;
  const std::string prefix = backend == "cpu" ? "localhost-" : "localhost-" + backend + "-";
  return (std::filesystem::path(cache_dir()) / (prefix + std::to_string(ranks) + "ranks.yaml")).string();
}

std::string resolve_cluster_name(const std::string& name) {
  if (name != "localhost") return name;
  const std::string file = localhost_cache_file();
  if (!core::is_file(file))
    throw core::InputError("localhost", "cluster",
                           "this machine has no calibration yet (" + file +
                               "); create it with `mpirun -np N hpsim calibrate --backend cpu --out " + file +
                               "` (N: the ranks to model; --backend cuda: one GPU per rank), or run a plan with "
                               "`hpsim run`, which calibrates first");
  return file;
}

}  // namespace hpsim::apps
