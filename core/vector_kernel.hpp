#pragma once
/// The element-wise kernels whose arithmetic rate a machine may measure one by one (`hpsim calibrate` writes a GPU's
/// `vector_table`): on a CPU their transcendental functions (tanh, exp) set very different rates, while a GPU's
/// element-wise kernels are memory-bound and need none. Shared by the operator model and the GPU description.
#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace hpsim::core {

enum class VectorKernel { generic, layernorm, rmsnorm, gelu, swiglu, softmax };

/// The kernels a table may list, by their file names.
inline constexpr std::array<std::pair<VectorKernel, std::string_view>, 5> kVectorKernels{{
    {VectorKernel::layernorm, "layernorm"},
    {VectorKernel::rmsnorm, "rmsnorm"},
    {VectorKernel::gelu, "gelu"},
    {VectorKernel::swiglu, "swiglu"},
    {VectorKernel::softmax, "softmax"},
}};

constexpr std::string_view to_string(VectorKernel k) {
  for (const auto& [kernel, name] : kVectorKernels)
    if (kernel == k) return name;
  return "generic";
}

constexpr std::optional<VectorKernel> vector_kernel_named(std::string_view name) {
  for (const auto& [kernel, n] : kVectorKernels)
    if (n == name) return kernel;
  return std::nullopt;
}

}  // namespace hpsim::core
