#include "orchestrator/cli/eval_output.h"

#include "evaluator/occupancy.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace kevo::cli {
namespace {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string bytes_text(int64_t b) {
  if (b >= (int64_t{1} << 30)) return fmt("%.2f GiB", b / double(int64_t{1} << 30));
  if (b >= (1 << 20)) return fmt("%.1f MiB", b / double(1 << 20));
  if (b >= (1 << 10)) return fmt("%.1f KiB", b / 1024.0);
  return std::to_string(b) + " B";
}

std::string dims(const unsigned d[3]) {
  return std::to_string(d[0]) + "," + std::to_string(d[1]) + "," + std::to_string(d[2]);
}

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

std::string indent(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) out += prefix + line + "\n";
  return out;
}

// How much of the architecture's typical GPU one launch fills: blocks an SM holds (NVIDIA's
// occupancy calculator on the kernel's registers and shared memory) and the waves of its grid.
struct LaunchFill {
  int blocks_per_sm = 0;
  double waves = 0;
};

std::optional<LaunchFill> launch_fill(const CompileReport& r, const ResolvedLaunch& l) {
  auto gpu = typical_gpu(r.arch);
  if (!gpu) return std::nullopt;
  for (const auto& k : r.outcome.kernels) {
    if (k.name != l.name) continue;
    LaunchFill f;
    f.blocks_per_sm = blocks_per_sm(*gpu, int(l.block[0] * l.block[1] * l.block[2]), k.registers,
                                    k.smem_bytes, int(l.smem));
    const double blocks = double(l.grid[0]) * l.grid[1] * l.grid[2];
    f.waves = f.blocks_per_sm > 0 ? blocks / (double(f.blocks_per_sm) * gpu->sm_count) : 0;
    return f;
  }
  return std::nullopt;
}

}  // namespace

nlohmann::json to_json(const CompileReport& r) {
  using nlohmann::json;
  json kernels = json::array();
  for (const auto& k : r.outcome.kernels) {
    kernels.push_back({{"name", k.name}, {"registers", k.registers}, {"smem_bytes", k.smem_bytes},
                       {"local_bytes", k.local_bytes}, {"spill_stores", k.spill_stores},
                       {"spill_loads", k.spill_loads}});
  }
  json workloads = json::array();
  for (const auto& w : r.workloads) {
    json launches = json::array();
    for (const auto& l : w.plan.launches) {
      json jl = {{"name", l.name},
                 {"phase", l.phase == Phase::kBuild ? "build" : "decode"},
                 {"grid", {l.grid[0], l.grid[1], l.grid[2]}},
                 {"block", {l.block[0], l.block[1], l.block[2]}},
                 {"smem_bytes", l.smem},
                 {"pdl", l.pdl}};
      jl["launched"] = l.launched();
      if (auto f = l.launched() ? launch_fill(r, l) : std::nullopt) {
        jl["blocks_per_sm"] = f->blocks_per_sm;
        jl["waves"] = f->waves;
      }
      launches.push_back(std::move(jl));
    }
    json jw = {{"name", w.name}, {"B", w.shape.B}, {"Hq", w.shape.Hq}, {"Hkv", w.shape.Hkv},
               {"N", w.shape.N}, {"D", w.shape.D}};
    if (w.error.empty()) {
      jw["index_bytes"] = w.plan.index_bytes;
      jw["workspace_bytes"] = w.plan.workspace_bytes;
      jw["launches"] = launches;
    } else {
      jw["error"] = w.error;
    }
    workloads.push_back(jw);
  }
  auto gpu = typical_gpu(r.arch);
  return {{"status", eval_status_name(r.outcome.status)},
          {"message", r.outcome.message},
          {"file", r.file},
          {"arch", r.arch},
          {"occupancy_gpu",
           gpu ? json(gpu->name + ", " + std::to_string(gpu->sm_count) + " SMs") : json()},
          {"compile_ms", r.outcome.compile_ms},
          {"cache_hit", r.outcome.cache_hit},
          {"params", r.outcome.params},
          {"kernels", kernels},
          {"suite", r.suite},
          {"workloads", workloads},
          {"compile_log", r.outcome.log}};
}

std::string render_text(const CompileReport& r) {
  std::ostringstream o;
  const CompileOutcome& c = r.outcome;
  o << r.file << " (compile only, " << r.arch << ")\n";
  o << "  status    " << eval_status_name(c.status) << (c.message.empty() ? "" : ": " + c.message) << "\n";
  o << "  compile   " << fmt("%.0f ms", c.compile_ms) << (c.cache_hit ? " (cached)" : "") << "\n";
  if (!c.params.empty()) {
    o << "  params   ";
    for (const auto& [k, v] : c.params) o << " " << k << "=" << v;
    o << "\n";
  }
  if (!c.kernels.empty()) {
    o << "\n  " << pad("kernel", 22) << pad("registers", 11) << pad("smem", 10) << pad("local", 8)
      << "spills (st/ld)\n";
    for (const auto& k : c.kernels) {
      o << "  " << pad(k.name, 22) << pad(std::to_string(k.registers), 11)
        << pad(bytes_text(k.smem_bytes), 10) << pad(std::to_string(k.local_bytes) + " B", 8)
        << k.spill_stores << "/" << k.spill_loads << " B\n";
    }
  }
  if (!r.workloads.empty()) {
    o << "\n  plan for suite " << r.suite;
    if (auto gpu = typical_gpu(r.arch)) {
      o << " (blocks per SM and waves of each grid on an " << gpu->name << ", " << gpu->sm_count
        << " SMs: NVIDIA's occupancy calculator)";
    }
    o << "\n";
    for (const auto& w : r.workloads) {
      o << "  " << pad(w.name, 14);
      if (!w.error.empty()) {
        o << "invalid: " << w.error << "\n";
        continue;
      }
      o << "index " << bytes_text(w.plan.index_bytes) << ", workspace " << bytes_text(w.plan.workspace_bytes) << "\n";
      for (const auto& l : w.plan.launches) {
        o << "    " << pad(l.name, 20) << pad(l.phase == Phase::kBuild ? "build" : "decode", 8)
          << "grid(" << dims(l.grid) << ") block(" << dims(l.block) << ")"
          << (l.smem ? " smem " + bytes_text(l.smem) : "") << (l.pdl ? " pdl" : "");
        if (!l.launched()) {
          o << "  not launched at this shape (a 0 in its grid)";
        } else if (auto f = launch_fill(r, l)) {
          if (f->blocks_per_sm == 0) {
            o << "  cannot run: a block needs more than one SM has";
          } else {
            o << "  " << f->blocks_per_sm << "/SM, " << fmt("%.2f", f->waves) << " waves"
              << (f->waves < 0.5 ? " (most SMs idle)" : "");
          }
        }
        o << "\n";
      }
    }
  }
  if (!c.log.empty()) o << "\n  compile log:\n" << indent(c.log, "    ");
  return o.str();
}

std::string render_text(const EvalResult& r, const std::string& file, const std::string& suite) {
  std::ostringstream o;
  o << file << " on suite " << suite << "\n";
  o << "  status    " << eval_status_name(r.status) << (r.message.empty() ? "" : ": " + r.message) << "\n";
  if (r.ok()) {
    o << "  fitness   " << fmt("%.3f", r.fitness) << " (speedup over dense";
    auto it = r.metrics.find("speedup_spread");
    if (it != r.metrics.end() && it->second > 0) {
      o << "; timing noise " << fmt("%.1f%%", 100 * it->second)
        << ": results closer than this are not told apart";
    }
    o << ")\n";
  }
  auto metric = [&](const char* key) -> const double* {
    auto it = r.metrics.find(key);
    return it == r.metrics.end() ? nullptr : &it->second;
  };
  if (const double* ms = metric("compile_ms")) o << "  compile   " << fmt("%.0f ms", *ms) << "\n";
  if (const double* e = metric("mean_rel_err")) {
    o << "  error     mean " << fmt("%.4f", *e);
    if (const double* p = metric("p99_rel_err")) o << ", p99 " << fmt("%.4f", *p);
    if (const double* m = metric("max_rel_err")) o << ", max " << fmt("%.4f", *m);
    o << "\n";
  }
  if (r.counters) {
    o << "  counters  ";
    if (!r.counters->unavailable.empty()) {
      o << "none: " << r.counters->unavailable << "\n";
    } else {
      o << r.counters->passes << " replay passes, " << fmt("%.0f ms", r.counters->ms)
        << " (after the timed calls)\n";
    }
  }
  if (const double* ib = metric("index_bytes_per_token")) {
    o << "  index     " << fmt("%.1f", *ib) << " B/token";
    if (const double* b = metric("build_ns_per_token")) o << ", build " << fmt("%.2f", *b) << " ns/token";
    o << "\n";
  }
  if (!r.workloads.empty()) {
    o << "\n  " << pad("workload", 14) << pad("decode us", 11) << pad("dense us", 10)
      << pad("speedup", 9) << pad("noise", 7) << pad("mean err", 10) << "p99 err\n";
    for (const auto& w : r.workloads) {
      o << "  " << pad(w.name, 14) << pad(fmt("%.2f", w.decode_us), 11)
        << pad(fmt("%.2f", w.dense_us), 10) << pad(fmt("%.2fx", w.speedup), 9)
        << pad(fmt("%.1f%%", 100 * std::sqrt(w.decode_spread * w.decode_spread +
                                             w.dense_spread * w.dense_spread)),
               7)
        << pad(fmt("%.4f", w.mean_rel_err), 10) << fmt("%.4f", w.p99_rel_err) << "\n";
      for (const auto& k : w.kernels) {
        o << "    " << pad(k.name, 20) << pad(fmt("%.2f us", k.us), 11) << pad(std::to_string(k.registers) + " regs", 10)
          << pad("smem " + bytes_text(k.smem_bytes), 16) << "spill/local " << k.local_bytes << " B\n";
        if (k.counters) o << "      " << describe_counters(*k.counters) << "\n";
      }
    }
  }
  if (!r.feedback.empty()) o << "\n  feedback:\n" << indent(r.feedback, "    ");
  if (!r.compile_log.empty()) o << "\n  compile log:\n" << indent(r.compile_log, "    ");
  return o.str();
}

}  // namespace kevo::cli
