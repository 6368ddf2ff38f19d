#include "apps/model_loading.hpp"

#include <iostream>
#include <vector>

namespace hpsim::apps {

models::ModelSpec load_model_warning(const std::string& ref, std::string_view command) {
  std::vector<std::string> warnings;
  models::ModelSpec model = models::load_model(ref, &warnings);
  for (const auto& w : warnings) std::cerr << "hpsim " << command << ": warning: " << w << "\n";
  return model;
}

}  // namespace hpsim::apps
