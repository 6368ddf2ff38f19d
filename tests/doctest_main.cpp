// doctest's main, plus the skip convention of tests/skip.hpp: exit 77 when every test case that ran was skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "skip.hpp"

DOCTEST_REGISTER_LISTENER("hpsim_skip", 1, hpsim_test::SkipListener);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int status = context.run();
  if (context.shouldExit()) return status;
  return hpsim_test::exit_status(status);
}
