#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "sim/engine.hpp"
#include "sim/trace_writer.hpp"
#include "test_vocabulary.hpp"

using hpsim::core::Time;
using namespace hpsim::sim;
using namespace hpsim_test;

namespace {

TaskGraph sample() {
  TaskGraph g(test_vocabulary());
  const auto fwd = g.add(0, Stream::compute_stream, Category::compute, g.label("fwd \"layer\" 0\\1\n\t\x01 ü"), Time{1500});
  const auto ar = g.add(0, Stream::tp_stream, Category::tp_comm, g.label("all_reduce"), Time{333});
  const auto send = g.add(0, Stream::pp_stream, Category::pp_comm, g.label("send"), Time{7});
  const auto recv_fwd = g.add(1, Stream::compute_stream, Category::compute, g.label("fwd"), Time{1'000'000'001});
  const auto grads = g.add(1, Stream::dp_stream, Category::dp_comm, g.label("reduce_scatter"), Time{2});
  g.depend(ar, fwd);
  g.depend(send, ar);
  g.depend(recv_fwd, send);
  g.depend(grads, recv_fwd);
  g.set_rank_name(1, "node 1 / gpu \"0\"");
  return g;
}

std::string trace_text(const TaskGraph& g) {
  std::ostringstream out;
  write_chrome_trace(out, g, simulate(g));
  return out.str();
}

}  // namespace

TEST_CASE("chrome trace parses and names processes and threads") {
  const auto g = sample();
  const auto text = trace_text(g);
  const auto json = nlohmann::json::parse(text);
  CHECK(json["displayTimeUnit"] == "ms");
  const auto& events = json["traceEvents"];
  REQUIRE(events.is_array());

  std::map<std::int64_t, std::string> processes;
  std::map<std::pair<std::int64_t, std::int64_t>, std::string> threads;
  std::set<std::pair<std::int64_t, std::int64_t>> sorted_threads;
  std::vector<nlohmann::json> complete;
  for (const auto& e : events) {
    const std::string ph = e["ph"];
    const auto pid = e["pid"].get<std::int64_t>();
    const auto tid = e.contains("tid") ? e["tid"].get<std::int64_t>() : -1;
    if (ph == "M" && e["name"] == "process_name") processes[pid] = e["args"]["name"];
    if (ph == "M" && e["name"] == "thread_name") threads[{pid, tid}] = e["args"]["name"];
    if (ph == "M" && e["name"] == "thread_sort_index") sorted_threads.insert({pid, tid});
    if (ph == "X") complete.push_back(e);
  }
  REQUIRE(processes.size() == 2);
  std::set<std::string> process_names;
  for (const auto& [pid, name] : processes) process_names.insert(name);
  CHECK(process_names == std::set<std::string>{"rank 0", "node 1 / gpu \"0\""});

  // One named thread per used stream, each with a sort index.
  CHECK(threads.size() == 5);
  for (const auto& [key, name] : threads) CHECK(sorted_threads.count(key) == 1);
  std::multiset<std::string> thread_names;
  for (const auto& [key, name] : threads) thread_names.insert(name);
  CHECK(thread_names == std::multiset<std::string>{"compute", "tp_comm", "pp_comm", "compute", "dp_comm"});

  REQUIRE(complete.size() == g.size());
  for (const auto& e : complete) {
    const TaskId id = e["args"]["task"];
    const Task& t = g.task(id);
    CHECK(e["name"] == g.labels()[t.label]);  // escaping round-trips
    CHECK(e["cat"] == g.vocabulary().categories[t.category]);
    CHECK(threads.at({e["pid"].get<std::int64_t>(), e["tid"].get<std::int64_t>()}) == g.vocabulary().streams[t.stream]);
  }
  // ts/dur in microseconds, exact to the nanosecond.
  CHECK(complete[1]["ts"].get<double>() == doctest::Approx(1.5));
  CHECK(complete[1]["dur"].get<double>() == doctest::Approx(0.333));
  CHECK(complete[3]["dur"].get<double>() == doctest::Approx(1'000'000.001));
  CHECK(text.find("\"dur\":1000000.001") != std::string::npos);
}

TEST_CASE("chrome trace is deterministic") {
  CHECK(trace_text(sample()) == trace_text(sample()));
}

TEST_CASE("chrome trace of an empty graph is valid") {
  TaskGraph g(test_vocabulary());
  const auto json = nlohmann::json::parse(trace_text(g));
  CHECK(json["traceEvents"].empty());
}
