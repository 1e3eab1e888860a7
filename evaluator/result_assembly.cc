#include "evaluator/result_assembly.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "evaluator/timing_stats.h"

namespace kevo {

double speedup_spread(const std::vector<WorkloadResult>& ws) {
  double sum = 0;
  int n = 0;
  for (const WorkloadResult& w : ws) {
    if (w.decode_spread <= 0 && w.dense_spread <= 0) continue;
    sum += std::sqrt(w.decode_spread * w.decode_spread + w.dense_spread * w.dense_spread);
    ++n;
  }
  return n ? sum / n : 0;
}

EvalResult assemble_result(const std::vector<WorkloadMeasure>& ws, double compile_ms) {
  EvalResult r;
  std::vector<double> ratios;
  double mean_sum = 0, p99 = 0, mx = 0, worst_call = 0, index_per_token = 0, build_us = 0,
         tokens = 0;
  for (const WorkloadMeasure& m : ws) {
    const WorkloadResult& w = m.result;
    r.workloads.push_back(w);
    ratios.push_back(w.decode_us > 0 ? w.dense_us / w.decode_us : 0);
    mean_sum += w.mean_rel_err;
    p99 = std::max(p99, w.p99_rel_err);
    mx = std::max(mx, w.max_rel_err);
    worst_call = std::max(worst_call, w.worst_call_err);
    const double t = double(w.B) * m.Hkv * w.N;
    if (t > 0) index_per_token = std::max(index_per_token, double(m.index_bytes) / t);
    build_us += w.build_us;
    tokens += t;
  }
  const double speedup = geomean(ratios);
  r.metrics["speedup"] = speedup;
  r.metrics["mean_rel_err"] = ws.empty() ? 0 : mean_sum / double(ws.size());
  r.metrics["p99_rel_err"] = p99;
  r.metrics["max_rel_err"] = mx;
  r.metrics["worst_call_err"] = worst_call;
  r.metrics["index_bytes_per_token"] = index_per_token;
  r.metrics["build_ns_per_token"] = tokens > 0 ? build_us * 1000.0 / tokens : 0;
  r.metrics["compile_ms"] = compile_ms;
  r.metrics["speedup_spread"] = speedup_spread(r.workloads);
  r.status = EvalStatus::kOk;
  r.fitness = speedup;
  r.feedback = feedback_text(r);
  return r;
}

namespace {
std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, x);
  return buf;
}
}  // namespace

std::string feedback_text(const EvalResult& r) {
  std::string out;
  auto metric = [&](const char* k) {
    auto it = r.metrics.find(k);
    return it == r.metrics.end() ? 0.0 : it->second;
  };
  out += "speedup " + fmt("%.3f", metric("speedup")) + "x over dense (geometric mean of " +
         std::to_string(r.workloads.size()) + " workloads; timing noise " +
         fmt("%.1f", 100 * metric("speedup_spread")) + "%); relative error mean " +
         fmt("%.4f", metric("mean_rel_err")) + ", p99 " + fmt("%.4f", metric("p99_rel_err")) +
         ", max " + fmt("%.4f", metric("max_rel_err")) + "; index " +
         fmt("%.1f", metric("index_bytes_per_token")) + " B/token/KV head\n";
  const WorkloadResult* slowest = nullptr;
  const WorkloadResult* worst = nullptr;
  for (const WorkloadResult& w : r.workloads) {
    out += w.name + ": " + fmt("%.1f", w.decode_us) + " us vs dense " + fmt("%.1f", w.dense_us) +
           " us (" + fmt("%.2f", w.speedup) + "x), error mean " + fmt("%.4f", w.mean_rel_err) +
           " p99 " + fmt("%.4f", w.p99_rel_err);
    if (w.build_us > 0) out += ", build " + fmt("%.1f", w.build_us) + " us";
    out += "\n";
    for (const KernelTiming& k : w.kernels) {
      out += "  " + k.name + ": " + fmt("%.1f", k.us) + " us, " + std::to_string(k.registers) +
             " registers, " + std::to_string(k.smem_bytes) + " B smem, " +
             std::to_string(k.local_bytes) + " B local" +
             (k.local_bytes > 0 ? " (spills or stack arrays: slow)" : "") + "\n";
    }
    if (!slowest || w.speedup < slowest->speedup) slowest = &w;
    if (!worst || w.mean_rel_err > worst->mean_rel_err) worst = &w;
  }
  if (slowest) {
    out += "lowest speedup: " + slowest->name + " (" + fmt("%.2f", slowest->speedup) + "x)";
    if (!slowest->kernels.empty()) {
      auto k = std::max_element(
          slowest->kernels.begin(), slowest->kernels.end(),
          [](const KernelTiming& a, const KernelTiming& b) { return a.us < b.us; });
      out += ", where '" + k->name + "' takes " +
             fmt("%.0f", 100 * k->us / std::max(1e-9, slowest->decode_us)) + "% of the decode time";
    }
    out += "\n";
  }
  if (worst)
    out += "largest error: " + worst->name + " (mean " + fmt("%.4f", worst->mean_rel_err) + ")\n";
  return out;
}

}  // namespace kevo
