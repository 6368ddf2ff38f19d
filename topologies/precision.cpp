#include "core/error.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::topologies {

Precision parse_precision(const std::string& text, const std::string& where, const std::string& field) {
  if (text == "fp32") return Precision::fp32;
  if (text == "fp16") return Precision::fp16;
  if (text == "bf16") return Precision::bf16;
  if (text == "fp8") return Precision::fp8;
  throw core::InputError(where, field, "expected one of fp32, fp16, bf16, fp8, got '" + text + "'");
}

std::string to_string(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::fp16: return "fp16";
    case Precision::bf16: return "bf16";
    case Precision::fp8: return "fp8";
  }
  return "unknown";
}

}  // namespace hpsim::topologies
