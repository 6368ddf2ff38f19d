#include "planner/search.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include "core/error.hpp"
#include "planner/cost_cache.hpp"
#include "planner/memory_model.hpp"
#include "planner/step_costs.hpp"

namespace hpsim::planner {

namespace {

using core::Seconds;

std::vector<std::int64_t> divisors(std::int64_t n) {
  std::vector<std::int64_t> out;
  for (std::int64_t d = 1; d * d <= n; ++d)
    if (n % d == 0) {
      out.push_back(d);
      if (d != n / d) out.push_back(n / d);
    }
  std::sort(out.begin(), out.end());
  return out;
}

/// The values to try for a field: the user's list as given (so that a bad pin is reported by the rule it breaks),
/// else the natural values within the user's range.
std::vector<std::int64_t> domain(const IntChoice& choice, const std::vector<std::int64_t>& natural) {
  if (!choice.values.empty()) return choice.values;
  std::vector<std::int64_t> out;
  for (auto v : natural)
    if (choice.allows(v)) out.push_back(v);
  return out;
}

bool is_power_of_two(std::int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

/// A tuple that orders plans for ties: smaller parallelism first, larger micro-batch, less recomputation.
auto tie_key(const Plan& p) {
  return std::make_tuple(p.tp, p.pp, p.cp, p.ep, p.vpp, -p.micro_batch_size, static_cast<int>(p.recompute), p.sp,
                         p.zero, static_cast<int>(p.schedule), p.flash_attention, p.parameter_servers, p.dp);
}

bool plan_before(const Plan& a, const Plan& b) { return tie_key(a) < tie_key(b); }

/// A feasible plan and a lower bound on its step time.
struct Candidate {
  Plan plan;
  double bound_s = 0;
};

/// Lower bound: every pass, its blocking communication and sends, and the optimizer run one after another on a
/// rank's compute stream; rank s cannot start before micro-batch 0 went forward through the stages before it, and
/// the step cannot end before the last micro-batch's gradients went back through them. Tight for even pipelines.
}  // namespace

double step_time_lower_bound_s(const StepCosts& c, const Plan& plan) {
  const std::int64_t p = plan.pp, v = plan.vpp, stages = p * v;
  const double m = static_cast<double>(plan.micro_batches());
  double best = 0, lead = 0, tail = 0;
  for (std::int64_t s = 0; s < p; ++s) {
    double work = 0, params = 0;
    for (std::int64_t k = 0; k < v; ++k) {
      const std::int64_t vs = k * p + s;
      const auto& ch = c.chunks[static_cast<std::size_t>(vs)];
      work += (ch.forward + ch.forward_tp + ch.forward_cp + ch.forward_ep + ch.recompute + ch.recompute_tp +
               ch.backward + ch.backward_tp + ch.backward_cp + ch.backward_ep)
                  .value();
      if (vs + 1 < stages) work += c.pp_send[static_cast<std::size_t>(s)].value();
      if (vs > 0) work += c.pp_send[static_cast<std::size_t>((s + p - 1) % p)].value();
      params += ch.parameters;
    }
    const double optimizer = optimizer_step_time(c, plan, params).value();
    best = std::max(best, lead + m * work + tail + optimizer);
    const auto& first = c.chunks[static_cast<std::size_t>(s)];  // chunk 0 of this stage
    lead += (first.forward + first.forward_tp + first.forward_cp + first.forward_ep).value();
    tail += (first.recompute + first.recompute_tp + first.backward + first.backward_tp + first.backward_cp +
             first.backward_ep)
                .value();
  }
  return best;
}

namespace {

std::string plan_fields(const Plan& p) {
  return fmt::format("tp {} pp {} dp {} cp {} ep {} vpp {} mbs {} recompute {} sp {} zero {}", p.tp, p.pp, p.dp,
                     p.cp, p.ep, p.vpp, p.micro_batch_size, to_string(p.recompute), p.sp ? "on" : "off", p.zero);
}

}  // namespace

bool rank_before(const StepResult& a, const StepResult& b) {
  if (a.step_time != b.step_time) return a.step_time < b.step_time;
  if (a.memory.peak != b.memory.peak) return a.memory.peak < b.memory.peak;
  return plan_before(a.plan, b.plan);
}

std::string explain_difference(const StepResult& best, const StepResult& other) {
  const auto& a = best.breakdown;
  const auto& b = other.breakdown;
  const std::vector<std::pair<const char*, double>> parts = {
      {"compute", (b.compute - a.compute).value()},
      {"exposed TP communication", (b.tp_comm_exposed - a.tp_comm_exposed).value()},
      {"exposed CP communication", (b.cp_comm_exposed - a.cp_comm_exposed).value()},
      {"exposed EP communication", (b.ep_comm_exposed - a.ep_comm_exposed).value()},
      {"pipeline bubble", (b.pp_bubble - a.pp_bubble).value()},
      {"exposed PP communication", (b.pp_comm_exposed - a.pp_comm_exposed).value()},
      {"exposed DP communication", (b.dp_comm_exposed - a.dp_comm_exposed).value()},
      {"optimizer", (b.other - a.other).value()}};
  const auto top = std::max_element(parts.begin(), parts.end(),
                                    [](const auto& x, const auto& y) { return x.second < y.second; });
  const double gap = (other.step_time - best.step_time).value();
  std::string fields;
  auto diff = [&](const char* name, auto x, auto y) {
    if (x != y) fields += fmt::format("{}{} {} vs {}", fields.empty() ? "" : ", ", name, x, y);
  };
  const Plan& p = best.plan;
  const Plan& q = other.plan;
  diff("tp", p.tp, q.tp);
  diff("pp", p.pp, q.pp);
  diff("dp", p.dp, q.dp);
  diff("cp", p.cp, q.cp);
  diff("ep", p.ep, q.ep);
  diff("vpp", p.vpp, q.vpp);
  diff("micro-batch", p.micro_batch_size, q.micro_batch_size);
  diff("recompute", to_string(p.recompute), to_string(q.recompute));
  diff("sp", p.sp ? "on" : "off", q.sp ? "on" : "off");
  diff("zero", p.zero, q.zero);
  diff("schedule", to_string(p.schedule), to_string(q.schedule));
  if (gap <= 0)
    return fmt::format("the runner-up is as fast; the best wins the tie on memory or the stated order ({})", fields);
  return fmt::format("the best is {:.3f} s ({:.1f} %) faster than the runner-up, mostly {:.3f} s less {} ({})", gap,
                     100 * gap / other.step_time.value(), top->second, top->first, fields);
}

SearchResult search_plans(const models::ModelSpec& model, const topologies::ClusterSpec& cluster,
                          const SearchSpace& space, const SearchOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  const std::string where = "plan constraints";
  if (space.global_batch_size <= 0) throw core::InputError(where, "--global-batch-size", "required (a positive integer)");
  const std::int64_t gpus = space.gpus > 0 ? space.gpus : cluster.total_gpus();
  if (gpus > cluster.total_gpus())
    throw core::InputError(where, "--gpus",
                           fmt::format("the cluster has {} GPUs, asked for {}", cluster.total_gpus(), gpus));
  const std::int64_t seq = space.seq_length > 0 ? space.seq_length : model.seq_length;

  const topologies::CollectiveCoster coster(cluster);
  CostCache cache(model, cluster, coster);
  SearchResult result;
  std::vector<Candidate> feasible;
  std::map<Rule, std::pair<std::int64_t, Plan>> rule_hits;  // count and one example
  double closest_peak = -1;

  std::vector<std::int64_t> tp_natural;
  for (auto d : divisors(gpus))
    if (space.tp_across_nodes || d <= cluster.gpus_per_node) tp_natural.push_back(d);
  const auto tp_values = domain(space.tp, tp_natural);
  std::size_t tp_done = 0;
  for (const auto tp : tp_values) {
    if (options.progress) options.progress(0.5 * static_cast<double>(tp_done++) / static_cast<double>(tp_values.size()));
    for (const auto pp : domain(space.pp, divisors(std::max<std::int64_t>(1, gpus / std::max<std::int64_t>(1, tp))))) {
      std::vector<std::int64_t> cp_natural;
      for (auto d : divisors(std::max<std::int64_t>(1, gpus / std::max<std::int64_t>(1, tp * pp))))
        if (is_power_of_two(d) && d <= 16 && seq % d == 0) cp_natural.push_back(d);
      for (const auto cp : domain(space.cp, cp_natural)) {
        const std::int64_t mp = tp * pp * cp;
        const std::int64_t dp = mp > 0 && gpus % mp == 0 ? gpus / mp : 0;
        const std::vector<std::int64_t> ep_natural =
            model.is_moe() && dp > 0 ? divisors(model.num_experts) : std::vector<std::int64_t>{1};
        const std::vector<std::int64_t> vpp_natural =
            pp > 1 && model.num_layers % pp == 0 ? divisors(model.num_layers / pp) : std::vector<std::int64_t>{1};
        const std::vector<std::int64_t> mbs_natural =
            dp > 0 && space.global_batch_size % dp == 0 ? divisors(space.global_batch_size / dp)
                                                       : std::vector<std::int64_t>{1};
        for (const auto ep : domain(space.ep, ep_natural))
          for (const auto vpp : domain(space.vpp, vpp_natural))
            for (const auto mbs : domain(space.micro_batch_size, mbs_natural))
              for (const auto recompute : space.recompute)
                for (const bool sp : space.sp) {
                  if (sp && tp == 1) continue;  // the same plan as sp off
                  for (const auto zero : domain(space.zero, {0, 1, 2, 3})) {
                    if (zero > 0 && dp * cp == 1 && !space.zero.pinned()) continue;  // nothing to shard over
                    for (const auto schedule : space.schedule)
                      for (const bool flash : space.flash_attention)
                        for (const auto servers : domain(space.parameter_servers, {0})) {
                          ++result.candidates;
                          Plan p;
                          p.tp = tp, p.pp = pp, p.cp = cp, p.dp = dp, p.ep = ep, p.vpp = vpp;
                          p.micro_batch_size = mbs;
                          p.global_batch_size = space.global_batch_size;
                          p.seq_length = seq;
                          p.recompute = recompute;
                          p.sp = sp;
                          p.zero = zero;
                          p.precision = space.precision;
                          p.schedule = schedule;
                          p.flash_attention = flash;
                          p.parameter_servers = servers;
                          p.tp_comm_overlap = space.tp_comm_overlap;
                          p.overlap_grad_reduce = space.overlap_grad_reduce;
                          p.overlap_param_gather = space.overlap_param_gather;
                          if (tp <= 0 || pp <= 0 || cp <= 0 || ep <= 0 || vpp <= 0 || mbs <= 0 || zero > 3) {
                            ++result.rejected["non-positive field"];
                            continue;
                          }
                          Rule rule = check_model_shape(p, model);
                          if (rule == Rule::ok)
                            rule = dp == 0 ? Rule::gpus_by_model_parallel : check_plan(p, model, cluster);
                          if (rule != Rule::ok) {
                            ++result.rejected[std::string(rule_name(rule))];
                            auto& hit = rule_hits[rule];
                            if (hit.first++ == 0) hit.second = p;
                            continue;
                          }
                          const MemoryUse memory = memory_use(cache, p);
                          if (!memory.fits()) {
                            ++result.rejected["out of memory"];
                            if (closest_peak < 0 || memory.peak.value() < closest_peak) {
                              closest_peak = memory.peak.value();
                              result.closest_miss = ClosestMiss{p, memory};
                            }
                            continue;
                          }
                          feasible.push_back({p, step_time_lower_bound_s(compute_step_costs(cache, p), p)});
                        }
                  }
                }
      }
    }
  }
  result.feasible = static_cast<std::int64_t>(feasible.size());

  if (feasible.empty()) {
    if (result.closest_miss && !options.throw_if_nothing_fits) {
      result.search_time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      return result;
    }
    if (result.closest_miss) {
      const auto& miss = *result.closest_miss;
      throw core::InfeasibleError(fmt::format(
          "no plan fits in memory: the closest ({}) needs {:.1f} GiB per GPU, has {:.1f} GiB usable ({:.1f} GiB HBM)",
          plan_fields(miss.plan), miss.memory.peak.value() / 1073741824.0, miss.memory.usable.value() / 1073741824.0,
          miss.memory.capacity.value() / 1073741824.0));
    }
    if (rule_hits.empty()) throw core::InputError(where, "", "the constraints leave no plan to consider");
    // Every candidate broke a rule: report the most frequent one with an example.
    const auto most = std::max_element(rule_hits.begin(), rule_hits.end(), [](const auto& x, const auto& y) {
      return x.second.first < y.second.first;
    });
    const RuleBreach b = explain(most->first, most->second.second, model, cluster);
    throw core::InputError(where, "--" + b.field, b.message + " (no plan in the constraints keeps this rule)");
  }

  // Branch and bound: simulate in order of the lower bound; stop when it cannot beat the K-th best.
  std::sort(feasible.begin(), feasible.end(), [](const Candidate& a, const Candidate& b) {
    if (a.bound_s != b.bound_s) return a.bound_s < b.bound_s;
    return plan_before(a.plan, b.plan);
  });
  const unsigned threads = std::max(1u, options.threads ? options.threads : std::thread::hardware_concurrency());
  const std::size_t k = std::max<std::size_t>(1, options.top_k);
  std::vector<StepResult> top;
  std::size_t next = 0;
  const std::size_t batch = 4 * threads;
  while (next < feasible.size()) {
    const double kth = std::max(top.size() >= k ? top[k - 1].step_time.value() : INFINITY,
                                options.rank_time_s.value_or(0.0));
    std::size_t end = next;
    while (end < feasible.size() && end - next < batch && !(options.prune && feasible[end].bound_s > kth)) ++end;
    if (end == next) break;  // every remaining bound exceeds the K-th best
    std::vector<StepResult> results(end - next);
    std::atomic<std::size_t> cursor{next};
    std::exception_ptr failure;  // an exception must not escape a worker thread: rethrown here, after the join
    std::mutex failure_mutex;
    auto work = [&] {
      try {
        for (std::size_t i; (i = cursor.fetch_add(1)) < end;)
          results[i - next] = simulate_step(cache, feasible[i].plan).result;
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        cursor = end;
      }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads && t < end - next; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
    result.simulated += static_cast<std::int64_t>(results.size());
    for (auto& r : results) {
      if (options.rank_time_s && r.step_time.value() < *options.rank_time_s) ++result.faster_than_rank_time;
      top.push_back(std::move(r));
    }
    std::sort(top.begin(), top.end(), rank_before);
    if (top.size() > k) top.resize(k);
    next = end;
    if (options.progress) options.progress(0.5 + 0.5 * static_cast<double>(next) / static_cast<double>(feasible.size()));
  }
  result.plans = std::move(top);
  if (result.plans.size() >= 2) result.why_best = explain_difference(result.plans[0], result.plans[1]);
  result.search_time_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace hpsim::planner
