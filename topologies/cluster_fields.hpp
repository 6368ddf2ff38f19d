#pragma once
/// The one declaration of every key of a cluster description: the cluster mapping, its `fabric`, a GPU mapping (a
/// `gpu:` value or a GPU file), the GPU's `efficiency` and the `calibration:` block. Each row gives the key, what it
/// accepts, its unit, its default and a line of help. The readers (cluster_spec.cpp, gpu_spec.cpp, calibration.cpp)
/// reject unknown keys and check ranges through ClusterFieldReader, which walks the table; `hpsim keys --cluster`
/// and the generated docs/cluster_keys.md print it.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/fields.hpp"

namespace hpsim::topologies {

/// The mapping a key belongs to.
enum class ClusterSection { cluster, fabric, node_group, gpu, gpu_efficiency, calibration };

/// What a key accepts (`fraction`: in (0, 1], `share`: in [0, 1]). The scalar kinds are checked by
/// ClusterFieldReader; `structured` values (a GPU reference, a nested mapping, a list) are read by their own code and
/// described by the row's `values` text.
enum class ClusterValue { text, positive_integer, positive_number, non_negative_number, fraction, share, ratio,
                          boolean, structured };

/// The largest count any cluster key takes (nodes, GPUs or NICs per node, switches, tiles, SMs): 1,048,576, far
/// above any machine built, so that products of counts stay exact and every graph hpsim builds stays in memory.
inline constexpr std::int64_t kMaxClusterInteger = std::int64_t{1} << 20;

/// The most GPUs one node (one NVLink domain) holds: NVIDIA's announced Vera Rubin NVL576 rack (GTC 2025), the
/// largest NVLink domain made public.
inline constexpr std::int64_t kMaxGpusPerNode = 576;
/// The most GPUs a cluster holds: 2^18 = 262,144, above the largest training clusters made public (about 200,000
/// GPUs); costing one grows linearly with its GPUs (about 20 microseconds and 1 KB each for the link graph).
inline constexpr std::int64_t kMaxClusterGpus = std::int64_t{1} << 18;

struct ClusterField {
  ClusterSection section;
  std::string_view key;
  ClusterValue value;
  std::string_view unit;          ///< empty when dimensionless (or text)
  /// Empty: presets/base.yaml holds the default (the table prints the base's value, never a copy of it); else the
  /// default in words ("required", "gpus_per_node", "absent").
  std::string_view default_text;
  std::string_view help;
  std::string_view values = {};  ///< structured values: what they accept, in words
  bool sweepable = false;        ///< a what-if sweep (`plan --set`) may vary it (cluster keys with one value)
};

/// Every row, section by section, each section in the order its reader lists keys in errors.
std::span<const ClusterField> cluster_field_table();
/// The keys of one section, in table order.
std::vector<std::string> cluster_section_keys(ClusterSection section);
/// The row of `key` in `section`; a std::logic_error when there is none (a reader asking for an undeclared key).
const ClusterField& cluster_field(ClusterSection section, std::string_view key);
/// "fabric.spines", "gpu.efficiency.kernel_overhead_us": the key as the docs name it ("gpu." keys are a GPU file's
/// top-level keys too).
std::string cluster_field_path(const ClusterField& field);
/// What the key accepts, in words ("a positive integer", "a number in (0, 1]"); readers' errors use the same words.
std::string cluster_field_values(const ClusterField& field);
/// The default as documented: "8 (base preset)" read from presets/base.yaml, or the row's text.
std::string cluster_field_default(const ClusterField& field);

/// One mapping of a cluster description read by its section's rows: construction rejects any key the section has
/// no row for (naming the key it resembles), and every read checks the value against its row's kind and range.
class ClusterFieldReader {
 public:
  ClusterFieldReader(core::Fields fields, ClusterSection section);

  [[nodiscard]] bool has(std::string_view key) const { return fields_.has(std::string(key)); }
  [[nodiscard]] double number(std::string_view key) const;  ///< required
  [[nodiscard]] double number_or(std::string_view key, double fallback) const;
  [[nodiscard]] std::int64_t integer(std::string_view key) const;  ///< required
  [[nodiscard]] std::int64_t integer_or(std::string_view key, std::int64_t fallback) const;
  [[nodiscard]] bool boolean_or(std::string_view key, bool fallback) const;
  [[nodiscard]] std::string text_or(std::string_view key, const std::string& fallback) const;
  /// Fails when `key` is absent: "missing (required without a preset: HELP)".
  void require(std::string_view key) const;
  [[nodiscard]] const core::Fields& fields() const { return fields_; }

 private:
  [[nodiscard]] const ClusterField& row(std::string_view key, std::initializer_list<ClusterValue> kinds) const;
  core::Fields fields_;  ///< a copy (a node handle and its name): readers are built from temporaries
  ClusterSection section_;
};

}  // namespace hpsim::topologies
