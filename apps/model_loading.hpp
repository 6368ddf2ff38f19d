#pragma once
/// Loading a command's model: the loader's warnings (keys of a Hugging Face config.json it ignored that look like
/// misspellings of ones it reads) go to stderr, one line each, before the command's output.
#include <string>
#include <string_view>

#include "models/model_spec.hpp"

namespace hpsim::apps {

/// models::load_model, printing its warnings as "hpsim COMMAND: warning: ...".
models::ModelSpec load_model_warning(const std::string& ref, std::string_view command);

}  // namespace hpsim::apps
