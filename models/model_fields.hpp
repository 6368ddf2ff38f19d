#pragma once
/// The one declaration of every model-file key: its name and the other spellings read, its type, default and help,
/// and how it is read into and written from a ModelSpec. model_from_fields, model_to_node, the what-if sweep's keys
/// and `hpsim keys` walk it.
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/fields.hpp"
#include "models/model_spec.hpp"

namespace hpsim::models {

struct ModelField {
  std::string_view key;                    ///< the Hugging Face name, which model_to_node writes
  std::vector<std::string_view> aliases;   ///< other spellings read (GPT-2's n_embd, ...)
  std::string_view values;                 ///< what it accepts, in words
  std::string_view default_text;           ///< "required", or the default as documented
  std::string_view help;
  /// Reads the field into `m` under `key` (the spelling present, or the canonical one when absent, so that an error
  /// names it); fields read earlier in the table are already set, for defaults that depend on them.
  std::function<void(ModelSpec& m, const core::Fields& f, const std::string& key)> read;
  std::function<void(const ModelSpec& m, YAML::Node& n)> write;
  bool sweepable = true;  ///< a what-if sweep (`plan --set`) may vary it
};

/// The table, in reading order.
const std::vector<ModelField>& model_field_table();

}  // namespace hpsim::models
