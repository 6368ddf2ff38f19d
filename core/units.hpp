#pragma once
/// Strong unit types: a Flops is not a Bytes, and dividing one by the wrong rate does not compile.
#include <cmath>
#include <compare>
#include <cstdint>

namespace hpsim::core {

/// A double-valued physical quantity tagged with its unit.
template <class Tag>
class Quantity {
 public:
  constexpr Quantity() = default;
  constexpr explicit Quantity(double value) : value_(value) {}
  [[nodiscard]] constexpr double value() const { return value_; }

  constexpr Quantity operator+(Quantity o) const { return Quantity(value_ + o.value_); }
  constexpr Quantity operator-(Quantity o) const { return Quantity(value_ - o.value_); }
  constexpr Quantity operator*(double f) const { return Quantity(value_ * f); }
  constexpr Quantity operator/(double f) const { return Quantity(value_ / f); }
  constexpr double operator/(Quantity o) const { return value_ / o.value_; }
  constexpr Quantity& operator+=(Quantity o) { value_ += o.value_; return *this; }
  constexpr Quantity& operator-=(Quantity o) { value_ -= o.value_; return *this; }
  constexpr Quantity& operator*=(double f) { value_ *= f; return *this; }
  constexpr auto operator<=>(const Quantity&) const = default;

 private:
  double value_ = 0.0;
};

template <class Tag>
constexpr Quantity<Tag> operator*(double f, Quantity<Tag> q) { return q * f; }

using Seconds = Quantity<struct SecondsTag>;
using Bytes = Quantity<struct BytesTag>;
using Flops = Quantity<struct FlopsTag>;
using BytesPerSecond = Quantity<struct BytesPerSecondTag>;
using FlopsPerSecond = Quantity<struct FlopsPerSecondTag>;

constexpr Seconds operator/(Bytes b, BytesPerSecond r) { return Seconds(b.value() / r.value()); }
constexpr Seconds operator/(Flops f, FlopsPerSecond r) { return Seconds(f.value() / r.value()); }
constexpr Bytes operator*(BytesPerSecond r, Seconds t) { return Bytes(r.value() * t.value()); }
constexpr FlopsPerSecond operator/(Flops f, Seconds t) { return FlopsPerSecond(f.value() / t.value()); }
constexpr BytesPerSecond operator/(Bytes b, Seconds t) { return BytesPerSecond(b.value() / t.value()); }

// Unit constructors named after the units people write in data files.
constexpr Bytes gib(double v) { return Bytes(v * 1024.0 * 1024.0 * 1024.0); }
constexpr Bytes gigabytes(double v) { return Bytes(v * 1e9); }
constexpr BytesPerSecond gbyte_per_s(double v) { return BytesPerSecond(v * 1e9); }
constexpr BytesPerSecond gbit_per_s(double v) { return BytesPerSecond(v * 1e9 / 8.0); }
constexpr FlopsPerSecond tflop_per_s(double v) { return FlopsPerSecond(v * 1e12); }
constexpr Seconds microseconds(double v) { return Seconds(v * 1e-6); }

/// Simulated time: integer nanoseconds, so that event order and output reproduce exactly.
struct Time {
  std::int64_t ns = 0;
  constexpr auto operator<=>(const Time&) const = default;
  constexpr Time operator+(Time o) const { return Time{ns + o.ns}; }
  constexpr Time operator-(Time o) const { return Time{ns - o.ns}; }
  constexpr Time& operator+=(Time o) { ns += o.ns; return *this; }
};

/// Rounds to the nearest nanosecond (a cost of 0.4 ns counts as 0; costs are never negative).
constexpr Time to_time(Seconds s) { return Time{static_cast<std::int64_t>(std::llround(s.value() * 1e9))}; }
constexpr Seconds to_seconds(Time t) { return Seconds(static_cast<double>(t.ns) * 1e-9); }

}  // namespace hpsim::core
