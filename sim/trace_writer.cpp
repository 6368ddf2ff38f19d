#include "sim/trace_writer.hpp"

#include <charconv>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hpsim::sim {
namespace {

/// Appends JSON text to a buffer and hands it to the stream in large chunks (traces reach millions of events).
class JsonOut {
 public:
  explicit JsonOut(std::ostream& out) : out_(out) { buf_.reserve(kChunk + 4096); }
  ~JsonOut() { flush(); }
  JsonOut(const JsonOut&) = delete;
  JsonOut& operator=(const JsonOut&) = delete;

  JsonOut& raw(std::string_view s) {
    buf_.append(s);
    if (buf_.size() >= kChunk) flush();
    return *this;
  }
  JsonOut& string(std::string_view s) {
    buf_.push_back('"');
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"': buf_.append("\\\""); break;
        case '\\': buf_.append("\\\\"); break;
        case '\n': buf_.append("\\n"); break;
        case '\r': buf_.append("\\r"); break;
        case '\t': buf_.append("\\t"); break;
        default:
          if (c < 0x20 || c == 0x7f) {
            static constexpr char kHex[] = "0123456789abcdef";
            buf_.append("\\u00");
            buf_.push_back(kHex[c >> 4]);
            buf_.push_back(kHex[c & 0xf]);
          } else {
            buf_.push_back(ch);
          }
      }
    }
    buf_.push_back('"');
    return *this;
  }
  JsonOut& integer(std::int64_t v) {
    char tmp[24];
    const auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
    buf_.append(tmp, r.ptr);
    return *this;
  }
  /// Nanoseconds as microseconds with three decimals: exact, and the same text on every platform.
  JsonOut& micros(core::Time t) {
    std::int64_t ns = t.ns;
    if (ns < 0) {
      buf_.push_back('-');
      ns = -ns;
    }
    integer(ns / 1000);
    const auto frac = static_cast<int>(ns % 1000);
    buf_.push_back('.');
    buf_.push_back(static_cast<char>('0' + frac / 100));
    buf_.push_back(static_cast<char>('0' + frac / 10 % 10));
    buf_.push_back(static_cast<char>('0' + frac % 10));
    return *this;
  }
  void flush() {
    out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    buf_.clear();
  }

 private:
  static constexpr std::size_t kChunk = 1 << 20;
  std::ostream& out_;
  std::string buf_;
};

// Perfetto treats a tid as unique across processes, so each (rank, stream) gets its own; pid/tid 0 are avoided
// because trace viewers give them special meaning (the idle/swapper task).
std::int64_t pid_of(std::int32_t rank) { return static_cast<std::int64_t>(rank) + 1; }
std::int64_t tid_of(const TaskGraph& graph, std::int32_t rank, StreamId s) {
  return static_cast<std::int64_t>(rank) * static_cast<std::int64_t>(graph.stream_count()) +
         static_cast<std::int64_t>(s) + 1;
}

}  // namespace

void write_chrome_trace(std::ostream& out, const TaskGraph& graph, const SimResult& result) {
  if (result.timing.size() != graph.size()) {
    throw std::invalid_argument("write_chrome_trace: result is for another graph");
  }
  const auto ranks = static_cast<std::size_t>(graph.rank_count());
  // Which streams each rank uses: only those get a thread track.
  const std::size_t streams = graph.stream_count();
  std::vector<std::uint8_t> used(ranks * streams, 0);
  for (const Task& t : graph.tasks()) used[static_cast<std::size_t>(t.rank) * streams + t.stream] = 1;

  JsonOut j(out);
  j.raw("{\"traceEvents\":[\n");
  bool first = true;
  auto begin_event = [&] {
    j.raw(first ? "" : ",\n");
    first = false;
  };
  for (std::int32_t r = 0; r < graph.rank_count(); ++r) {
    begin_event();
    j.raw("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":").integer(pid_of(r)).raw(",\"args\":{\"name\":");
    j.string(graph.rank_name(r)).raw("}}");
    begin_event();
    j.raw("{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":").integer(pid_of(r));
    j.raw(",\"args\":{\"sort_index\":").integer(r).raw("}}");
    for (std::size_t s = 0; s < streams; ++s) {
      if (!used[static_cast<std::size_t>(r) * streams + s]) continue;
      const auto stream = static_cast<StreamId>(s);
      begin_event();
      j.raw("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":").integer(pid_of(r));
      j.raw(",\"tid\":").integer(tid_of(graph, r, stream)).raw(",\"args\":{\"name\":").string(graph.vocabulary().streams[s]).raw("}}");
      begin_event();
      j.raw("{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":").integer(pid_of(r));
      j.raw(",\"tid\":").integer(tid_of(graph, r, stream)).raw(",\"args\":{\"sort_index\":");
      j.integer(static_cast<std::int64_t>(s)).raw("}}");
    }
  }
  const auto& labels = graph.labels();
  for (TaskId id = 0; id < graph.size(); ++id) {
    const Task& t = graph.task(id);
    const TaskTiming& timing = result.timing[id];
    begin_event();
    j.raw("{\"name\":").string(labels[t.label]).raw(",\"cat\":").string(graph.vocabulary().categories[t.category]);
    j.raw(",\"ph\":\"X\",\"pid\":").integer(pid_of(t.rank)).raw(",\"tid\":").integer(tid_of(graph, t.rank, t.stream));
    j.raw(",\"ts\":").micros(timing.start).raw(",\"dur\":").micros(timing.end - timing.start);
    j.raw(",\"args\":{\"task\":").integer(id).raw("}}");
  }
  j.raw("\n],\"displayTimeUnit\":\"ms\"}\n");
}

}  // namespace hpsim::sim
