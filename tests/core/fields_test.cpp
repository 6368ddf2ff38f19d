#include <doctest/doctest.h>

#include "core/error.hpp"
#include "core/fields.hpp"
#include "core/units.hpp"

using namespace hpsim::core;

TEST_CASE("units: rates divide into seconds and time rounds to nanoseconds") {
  const Seconds t = Bytes(1e9) / gbyte_per_s(100);
  CHECK(t.value() == doctest::Approx(0.01));
  CHECK((tflop_per_s(312) * 1.0).value() == doctest::Approx(312e12));
  CHECK(to_time(Seconds(1.5e-9)).ns == 2);
  CHECK(to_seconds(Time{2'000'000'000}).value() == doctest::Approx(2.0));
  CHECK(gbit_per_s(200).value() == doctest::Approx(25e9));
}

TEST_CASE("fields: errors name the file, the field and what was expected") {
  const Fields f(parse_yaml_text("{a: 3, b: -1, c: abc, d: 2.5, e: true, l: [1, 2]}", "x.yaml"), "x.yaml");
  CHECK(f.positive_integer("a") == 3);
  CHECK_THROWS_WITH_AS((void)f.positive_integer("b"), "x.yaml: b: expected a positive integer, got -1", InputError);
  CHECK_THROWS_WITH_AS((void)f.number("c"), "x.yaml: c: expected a number, got 'abc'", InputError);
  CHECK_THROWS_WITH_AS((void)f.positive_integer("d"), "x.yaml: d: expected a positive integer, got 2.5", InputError);
  CHECK_THROWS_WITH_AS((void)f.number("zz"), "x.yaml: zz: missing (required)", InputError);
  CHECK_THROWS_AS((void)f.number("l"), InputError);
  CHECK(f.boolean_or("e", false));
  CHECK(f.number_or("zz", 7.0) == 7.0);
  CHECK_THROWS_WITH_AS((void)f.choice_or("c", {"x", "y"}, "x"), "x.yaml: c: expected one of x, y, got 'abc'",
                       InputError);
}

TEST_CASE("fields: broken YAML and non-mappings are input errors") {
  CHECK_THROWS_AS(parse_yaml_text("{a: [1, 2", "bad.yaml"), InputError);
  CHECK_THROWS_AS(Fields(parse_yaml_text("- 1\n- 2\n", "list.yaml"), "list.yaml"), InputError);
  CHECK_THROWS_AS(load_yaml_file("/nonexistent/file.yaml"), InputError);
}
