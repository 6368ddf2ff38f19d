/// Reading one mapping of a cluster description by its rows of the key table: the keys it may hold and the range of
/// each value come from the table alone.
#include <algorithm>
#include <stdexcept>
#include <utility>

#include "topologies/cluster_fields.hpp"

namespace hpsim::topologies {

ClusterFieldReader::ClusterFieldReader(core::Fields fields, ClusterSection section)
    : fields_(std::move(fields)), section_(section) {
  fields_.reject_unknown_keys(cluster_section_keys(section));
}

const ClusterField& ClusterFieldReader::row(std::string_view key, std::initializer_list<ClusterValue> kinds) const {
  const ClusterField& f = cluster_field(section_, key);
  if (std::find(kinds.begin(), kinds.end(), f.value) == kinds.end())
    throw std::logic_error("cluster key table: " + cluster_field_path(f) + " is not read as this kind of value");
  return f;
}

double ClusterFieldReader::number(std::string_view key_view) const {
  const ClusterField& f = row(key_view, {ClusterValue::positive_number, ClusterValue::non_negative_number,
                                         ClusterValue::fraction, ClusterValue::share, ClusterValue::ratio});
  const std::string key(key_view);
  const double v = fields_.number(key);
  const bool ok = f.value == ClusterValue::positive_number       ? v > 0
                  : f.value == ClusterValue::non_negative_number ? v >= 0
                  : f.value == ClusterValue::fraction            ? v > 0 && v <= 1
                  : f.value == ClusterValue::share               ? v >= 0 && v <= 1
                                                                 : v >= 1;
  if (!ok) fields_.fail(key, "expected " + cluster_field_values(f) + ", got " + fields_.node()[key].Scalar());
  return v;
}

double ClusterFieldReader::number_or(std::string_view key, double fallback) const {
  return has(key) ? number(key) : fallback;
}

std::int64_t ClusterFieldReader::integer(std::string_view key) const {
  const ClusterField& f = row(key, {ClusterValue::positive_integer});
  const std::int64_t v = fields_.positive_integer(std::string(key));
  if (v > kMaxClusterInteger)
    fields_.fail(std::string(key), "expected " + cluster_field_values(f) + ", got " + fields_.node()[std::string(key)].Scalar());
  return v;
}

std::int64_t ClusterFieldReader::integer_or(std::string_view key, std::int64_t fallback) const {
  return has(key) ? integer(key) : fallback;
}

bool ClusterFieldReader::boolean_or(std::string_view key, bool fallback) const {
  (void)row(key, {ClusterValue::boolean});
  return fields_.boolean_or(std::string(key), fallback);
}

std::string ClusterFieldReader::text_or(std::string_view key, const std::string& fallback) const {
  (void)row(key, {ClusterValue::text});
  return fields_.string_or(std::string(key), fallback);
}

void ClusterFieldReader::require(std::string_view key) const {
  const ClusterField& f = cluster_field(section_, key);
  if (!has(key)) fields_.fail(std::string(key), "missing (required without a preset: " + std::string(f.help) + ")");
}

}  // namespace hpsim::topologies
