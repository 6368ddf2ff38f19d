#include "apps/html_report.hpp"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>

#include "apps/output.hpp"
#include "apps/html_page_files.hpp"
#include "core/error.hpp"

namespace hpsim::apps {

using nlohmann::json;

namespace {

// The page (apps/html/, embedded at build time): page.html with the style, the data and the script put in. The
// script reads the JSON in #hpsim-data and draws every chart whose data is present; when done it sets data-ready="1"
// on <body>, data-charts (the charts drawn) and, per chart, data-marks (bars, points or boxes drawn); console errors
// and uncaught exceptions are counted in data-console-errors. The browser test reads these.
std::string_view page_file(std::string_view name) {
  for (const auto& f : html_page_files())
    if (f.name == name) return f.text;
  throw std::logic_error("html page file not embedded: " + std::string(name));
}

std::string escape_html(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

void replace_all(std::string& s, const std::string& what, const std::string& with) {
  for (std::size_t pos = 0; (pos = s.find(what, pos)) != std::string::npos; pos += with.size())
    s.replace(pos, what.size(), with);
}

}  // namespace

json html_plan_entry(const std::string& label, const planner::StepResult& r) {
  json j = step_to_json(r);
  j["label"] = label;
  return j;
}

json html_timeline(const std::string& title, const planner::StepGraph& step_graph, const sim::SimResult& timings,
                   int max_ranks) {
  const auto& graph = step_graph.graph;
  json j;
  j["title"] = title;
  j["step_time_us"] = static_cast<double>(timings.makespan.ns) / 1e3;
  j["streams"] = graph.vocabulary().streams;
  j["categories"] = graph.vocabulary().categories;
  // Only the labels the shown tasks use, renumbered.
  std::vector<std::int64_t> label_index(graph.labels().size(), -1);
  json labels = json::array();
  json ranks = json::array();
  const int shown = std::min(graph.rank_count(), max_ranks);
  for (int r = 0; r < shown; ++r) {
    json tasks = json::array();
    for (const auto id : graph.tasks_of_rank(r)) {
      const auto& t = graph.task(id);
      const auto& tm = timings.timing[id];
      if (tm.end.ns <= tm.start.ns) continue;  // zero-length tasks (joins) draw nothing
      auto& li = label_index[t.label];
      if (li < 0) {
        li = static_cast<std::int64_t>(labels.size());
        labels.push_back(graph.labels()[t.label]);
      }
      tasks.push_back({static_cast<int>(t.stream), static_cast<int>(t.category), static_cast<double>(tm.start.ns) / 1e3,
                       static_cast<double>(tm.end.ns - tm.start.ns) / 1e3, li});
    }
    ranks.push_back({{"name", graph.rank_name(r)}, {"tasks", std::move(tasks)}});
  }
  j["labels"] = std::move(labels);
  j["ranks"] = std::move(ranks);
  j["shown_ranks"] = shown;
  j["total_ranks"] = graph.rank_count();
  return j;
}

std::string render_html_page(const json& page) {
  // ASCII-only JSON; "</" cannot end the script element early.
  std::string data = page.dump(-1, ' ', true, json::error_handler_t::replace);
  replace_all(data, "</", "<\\/");
  std::string html(page_file("page.html"));
  replace_all(html, "@TITLE@", escape_html(page.value("title", std::string("hpsim report"))));
  replace_all(html, "@STYLE@", std::string(page_file("report.css")));
  // The data and the script go in last, the later one first, so that neither is scanned for placeholders.
  const auto data_at = html.find("@DATA@"), script_at = html.find("@SCRIPT@");
  html.replace(script_at, 8, page_file("report.js"));
  html.replace(data_at, 6, data);
  return html;
}

void write_html_page(const std::string& path, const std::string& flag, const json& page) {
  std::ofstream out(path);
  if (!out) throw core::InputError(path, flag, "cannot write the HTML file");
  out << render_html_page(page);
}

}  // namespace hpsim::apps
