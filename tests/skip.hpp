#pragma once
// A test case that cannot run on this machine (no GPU, a GPU present where its absence is tested) calls skip() and
// returns. When every test case a binary ran was skipped and none failed, its main exits kSkipExit, which CMake
// registers as SKIP_RETURN_CODE: ctest then reports the entry Skipped instead of Passed. Register the ctest entries
// so that their cases skip together (one condition per entry).
#include <doctest/doctest.h>

#include <set>
#include <string>

namespace hpsim_test {

inline constexpr int kSkipExit = 77;

struct SkipState {
  std::string current;             ///< the test case running now
  std::set<std::string> skipped;   ///< test cases that called skip()
  unsigned ran = 0;                ///< test cases that passed the filters
};

inline SkipState& skip_state() {
  static SkipState state;
  return state;
}

/// Marks the running test case skipped, saying why; the caller returns.
inline void skip(const std::string& why) {
  MESSAGE("skipped: " << why);
  skip_state().skipped.insert(skip_state().current);
}

/// True when the run had test cases and every one of them was skipped.
inline bool all_skipped() {
  const SkipState& s = skip_state();
  return s.ran > 0 && s.skipped.size() >= s.ran;
}

/// doctest's status, or kSkipExit when it passed and every test case was skipped.
inline int exit_status(int doctest_status) { return doctest_status == 0 && all_skipped() ? kSkipExit : doctest_status; }

/// Follows the run for skip(): which test case is running, how many ran. Register once per binary (in its main).
struct SkipListener : doctest::IReporter {
  explicit SkipListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    skip_state().ran = stats.numTestCasesPassingFilters;
  }
  void test_case_start(const doctest::TestCaseData& data) override { skip_state().current = data.m_name; }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace hpsim_test
