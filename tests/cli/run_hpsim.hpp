#pragma once
// Running the hpsim binary from the CLI tests: exit status, stdout and stderr of one command line.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace hpsim_test {

struct Outcome {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs a shell command line; stdout and stderr captured apart.
inline Outcome run_command_line(const std::string& command) {
  const std::string err_file = "/tmp/hpsim_cli_test_" + std::to_string(::getpid()) + ".err";
  const std::string cmd = command + " 2>" + err_file;
  Outcome o;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) o.out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.err = slurp(err_file);
  std::remove(err_file.c_str());
  return o;
}

inline Outcome hpsim(const std::string& args) { return run_command_line(std::string(HPSIM_BINARY) + " " + args); }

/// A path under /tmp unique to this test process.
inline std::string temp_path(const std::string& name) {
  return "/tmp/hpsim_cli_" + std::to_string(::getpid()) + "_" + name;
}

inline std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = temp_path(name);
  std::ofstream(path) << text;
  return path;
}

/// Bad input: exit 2, exactly one line on stderr, naming what it must name.
inline void expect_input_error(const std::string& args, const std::string& needle) {
  CAPTURE(args);
  const Outcome o = hpsim(args);
  CAPTURE(o.err);
  CHECK(o.code == 2);
  CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
  CHECK(o.err.find(needle) != std::string::npos);
}

}  // namespace hpsim_test
