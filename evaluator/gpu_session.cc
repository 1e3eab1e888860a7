// GpuSession: one CUDA context per runner, the suites' data kept across candidates, the dense
// baseline compiled once, and per candidate: load, plan, run every workload (candidate, then
// dense on the same data, both through run_workload), assemble the result.
#include <chrono>
#include <cmath>
#include <map>
#include <optional>

#include "common/log.h"
#include "common/paths.h"
#include "common/yaml_config.h"
#include "evaluator/gpu_session_impl.h"

namespace kevo {
namespace session_detail {

Session::~Session() {
  if (ctx_->poisoned()) return;  // leak: freeing on a lost context may block
  for (auto& [key, d] : data_) free_workload_data(*ctx_, *d);
  if (dense_) unload(*dense_);
}

std::optional<Failure> Session::load(const std::string& name, const std::string& source,
                                     const CompileOutcome& compiled, LoadedModule& out) {
  const CudaDriver& drv = ctx_->drv();
  auto spec = parse_task_spec(source);
  if (!spec.ok()) return Failure{EvalStatus::kRejectedSource, spec.status().message()};
  out.name = name;
  out.spec = std::move(spec).value();
  out.params = compiled.params;
  if (out.params.empty()) {
    auto p = out.spec.resolve_params({});
    if (!p.ok()) return Failure{EvalStatus::kRejectedSource, p.status().message()};
    out.params = *p;
  }
  CUresult r = drv.cuModuleLoadData(&out.mod, compiled.cubin.data());
  if (r != CUDA_SUCCESS) {
    Status st = ctx_->check(r, "cuModuleLoadData");
    if (ctx_->poisoned()) return Failure{EvalStatus::kCrash, st.message()};
    return Failure{EvalStatus::kCompileError, "the compiled module does not load on this GPU (" +
                                                  arch() + "): " + st.message()};
  }
  for (const KernelLaunchSpec& k : out.spec.kernels) {
    if (out.kernels.count(k.name)) continue;
    PlanKernel pk;
    pk.name = k.name;
    if (drv.cuModuleGetFunction(&pk.fn, out.mod, k.name.c_str()) != CUDA_SUCCESS) {
      return Failure{EvalStatus::kInvalidPlan,
                     "line " + std::to_string(k.line) + ": the plan names kernel '" + k.name +
                         "', but the module has no such entry point (declare it extern \"C\" "
                         "__global__, so its name is not mangled)"};
    }
    drv.cuFuncGetAttribute(&pk.registers, CU_FUNC_ATTRIBUTE_NUM_REGS, pk.fn);
    drv.cuFuncGetAttribute(&pk.static_smem, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, pk.fn);
    drv.cuFuncGetAttribute(&pk.local_bytes, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, pk.fn);
    drv.cuFuncGetAttribute(&pk.max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, pk.fn);
    out.kernels[k.name] = pk;
  }
  return std::nullopt;
}

void Session::unload(LoadedModule& m) {
  if (m.mod && !ctx_->poisoned()) ctx_->drv().cuModuleUnload(m.mod);
  m.mod = nullptr;
}

std::optional<Failure> Session::plan_for(const LoadedModule& m, const WorkloadSpec& w,
                                         RunPlan& out) {
  auto plan = resolve_plan(m.spec, m.params, w.shape);
  if (!plan.ok()) return Failure{EvalStatus::kInvalidPlan, plan.status().message()};
  const double tokens = double(w.shape.B) * w.shape.Hkv * w.shape.N;
  const double per_token = double(plan->index_bytes) / tokens;
  if (per_token > cfg_.index_cap_bytes_per_token) {
    char buf[160];
    std::snprintf(buf, sizeof(buf), "%.1f bytes per token per KV head", per_token);
    return Failure{EvalStatus::kInvalidPlan,
                   "the index (kevo:index " + m.spec.index_bytes.text() + ") needs " + buf +
                       ", over the cap of " + std::to_string(cfg_.index_cap_bytes_per_token) +
                       " (an index that large is a second KV cache, not an index)"};
  }
  out = RunPlan{};
  out.index_bytes = plan->index_bytes;
  out.workspace_bytes = plan->workspace_bytes;
  for (const ResolvedLaunch& l : plan->launches) {
    if (!l.launched()) continue;  // a 0 in its grid: this shape does without it (resolve_plan)
    PlanKernel k = m.kernels.at(l.name);
    k.launch = l;
    // The 48 KB a block gets without opting in counts static and dynamic shared memory together
    // (a kernel with 5 KB of static and 48 KB of dynamic was refused as an invalid value).
    if (l.smem + k.static_smem > 48 * 1024) {
      CUresult r = ctx_->drv().cuFuncSetAttribute(
          k.fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, int(l.smem));
      if (r != CUDA_SUCCESS) {
        return Failure{EvalStatus::kLaunchError,
                       "kernel '" + l.name + "' asks for " + std::to_string(l.smem) +
                           " B of dynamic shared memory; this GPU allows at most " +
                           std::to_string(ctx_->info().max_smem_per_block_optin) +
                           " B per block minus its " + std::to_string(k.static_smem) +
                           " B of static shared memory"};
      }
    }
    (l.phase == Phase::kBuild ? out.build : out.decode).push_back(k);
  }
  if (out.decode.empty()) return Failure{EvalStatus::kInvalidPlan, "the plan has no decode kernel"};
  return std::nullopt;
}

std::optional<Failure> Session::ensure_dense() {
  if (dense_) return std::nullopt;
  auto path = data_path("seeds/dense_flashdecode.cu");
  std::string source;
  Status st = path.ok() ? read_text_file(*path, source) : path.status();
  if (!st.ok())
    return Failure{EvalStatus::kCrash, "evaluator fault: the dense baseline: " + st.message()};
  Candidate c{"dense_flashdecode", source, {}};
  CompileOptions opt;
  opt.arch = arch();
  CompileOutcome compiled = compile_candidate(c, opt);
  if (compiled.status != EvalStatus::kOk) {
    return Failure{EvalStatus::kCrash, "evaluator fault: the dense baseline " + *path +
                                           " does not compile: " + compiled.message};
  }
  LoadedModule m;
  if (auto f = load(c.name, source, compiled, m)) {
    return Failure{EvalStatus::kCrash, "evaluator fault: the dense baseline: " + f->message};
  }
  dense_ = std::move(m);
  return std::nullopt;
}

Result<const Suite*> Session::get_suite(const std::string& name) {
  auto it = suites_.find(name);
  if (it == suites_.end()) {
    KEVO_ASSIGN_OR_RETURN(Suite s, load_suite(name));
    it = suites_.emplace(name, std::move(s)).first;
  }
  return &it->second;
}

Result<WorkloadData*> Session::get_data(const Suite& s, const WorkloadSpec& w) {
  const std::string key = s.file + "|" + w.name + "|" + std::to_string(w.seed);
  auto it = data_.find(key);
  if (it != data_.end()) return it->second.get();
  // Keep at most a third of the GPU's memory in cached KV data: drop other suites' first.
  size_t cached = 0;
  for (auto& [k, d] : data_) cached += d->k.bytes * 2;
  const size_t want = size_t(w.shape.B) * w.shape.Hkv * w.shape.N * w.shape.D * 4;
  if (cached + want > size_t(ctx_->info().memory_bytes / 3)) {
    for (auto i = data_.begin(); i != data_.end();) {
      if (i->first.rfind(s.file + "|", 0) == 0) {
        ++i;
        continue;
      }
      free_workload_data(*ctx_, *i->second);
      i = data_.erase(i);
    }
  }
  KEVO_ASSIGN_OR_RETURN(auto d, create_workload_data(*ctx_, w));
  return (data_[key] = std::move(d)).get();
}

void Session::drop_if_dirty(const Suite& s, const WorkloadSpec& w, WorkloadData& d) {
  if (!d.dirty || ctx_->poisoned()) return;  // rebuilt on next use
  free_workload_data(*ctx_, d);
  data_.erase(s.file + "|" + w.name + "|" + std::to_string(w.seed));
}

RunLimits Session::limits(const Shape& s, bool dense) const {
  RunLimits l;
  l.stop = {cfg_.min_iterations, cfg_.max_iterations, cfg_.target_spread,
            cfg_.max_seconds_per_workload};
  l.warmup_iterations = cfg_.warmup_iterations;
  l.kernel_timeout_s = cfg_.kernel_timeout_s;
  // The baseline must stay exact: a regression in it would inflate every speedup.
  l.max_mean_rel_err = dense ? std::min(cfg_.max_mean_rel_err, 0.02) : cfg_.max_mean_rel_err;
  // The physical floor: no decode phase beats half an empty kernel launch (measured with the
  // same events on this GPU) plus reading q and writing o at the measured copy bandwidth. The
  // index is not counted: a hierarchical index legitimately reads a fraction of itself.
  const double qo_bytes = 2.0 * s.B * s.Hq * s.D * 2;
  const double bytes_per_us = std::max(1.0, ctx_->info().copy_gbps) * 1e3;
  l.floor_us = 0.5 * empty_us_ + qo_bytes / bytes_per_us;
  return l;
}

EvalResult Session::measure(const Candidate& c, const CompileOutcome& compiled,
                            const std::string& suite_name, const EvalOptions& options) {
  auto failure = [&](EvalStatus s, const std::string& msg) {
    EvalResult r = EvalResult::failure(s, msg);
    r.compile_log = compiled.log;
    r.metrics["compile_ms"] = compiled.compile_ms;
    r.feedback = std::string(eval_status_name(s)) + ": " + msg;
    return r;
  };
  if (ctx_->poisoned()) {
    return failure(EvalStatus::kCrash,
                   "this GPU session was lost to an earlier crash or hang; "
                   "a fresh runner process must take over");
  }
  if (compiled.status != EvalStatus::kOk) return failure(compiled.status, compiled.message);
  if (auto f = ensure_dense()) return failure(f->status, f->message);
  auto suite = get_suite(suite_name);
  if (!suite.ok())
    return failure(EvalStatus::kCrash, "evaluator fault: " + suite.status().message());
  ModuleGuard guard(*this);  // unloads the candidate on every return below
  LoadedModule& cand = guard.module;
  if (auto f = load(c.name, c.source, compiled, cand)) return failure(f->status, f->message);
  std::vector<WorkloadMeasure> measures;
  for (const WorkloadSpec& w : (*suite)->workloads) {
    RunPlan plan, dense_plan;
    auto f = plan_for(cand, w, plan);
    if (!f) f = plan_for(*dense_, w, dense_plan);
    if (f) return failure(f->status, "workload " + w.name + ": " + f->message);
    auto data = get_data(**suite, w);
    if (!data.ok()) {
      return failure(EvalStatus::kCrash, "evaluator fault: " + data.status().message());
    }
    RunOutcome co = run_workload(*ctx_, **data, plan, limits(w.shape, false));
    if (co.inputs_modified) (*data)->dirty = true;
    std::optional<RunOutcome> dn;
    if (co.status == EvalStatus::kOk) dn = run_workload(*ctx_, **data, dense_plan, limits(w.shape, true));
    drop_if_dirty(**suite, w, **data);
    if (co.status != EvalStatus::kOk) {
      return failure(co.status, "workload " + w.name + ": " + co.message);
    }
    if (dn->status != EvalStatus::kOk) {
      return failure(EvalStatus::kCrash, "evaluator fault: the dense baseline failed on workload " +
                                             w.name + ": " + dn->message);
    }
    WorkloadMeasure m;
    WorkloadResult& r = m.result;
    r.name = w.name;
    r.B = w.shape.B;
    r.N = w.shape.N;
    r.Hq = w.shape.Hq;
    r.Hkv = w.shape.Hkv;
    r.D = w.shape.D;
    r.decode_us = co.decode_us;
    r.dense_us = dn->decode_us;
    r.speedup = co.decode_us > 0 ? dn->decode_us / co.decode_us : 0;
    r.decode_spread = co.spread;
    r.dense_spread = dn->spread;
    ErrorStats e = summarize_errors(co.row_errors);
    r.mean_rel_err = e.mean;
    r.p99_rel_err = e.p99;
    r.max_rel_err = e.max;
    r.worst_call_err = co.worst_call_mean;
    r.build_us = co.build_us;
    for (size_t i = 0; i < plan.decode.size(); ++i) {
      const PlanKernel& k = plan.decode[i];
      r.kernels.push_back({k.name, i < co.kernel_us.size() ? co.kernel_us[i] : 0, k.registers,
                           k.static_smem + int(k.launch.smem), k.local_bytes});
    }
    m.Hkv = w.shape.Hkv;
    m.index_bytes = plan.index_bytes;
    measures.push_back(std::move(m));
  }
  // Counters after every timed call of every workload: the profiler never runs while timing.
  std::optional<CountersRun> counters;
  if (wants_counters(suite_name, options)) {
    std::vector<WorkloadResult> profiled;
    counters.emplace();
    if (auto f = profile(cand, **suite, profiled, *counters)) return failure(f->status, f->message);
    for (const WorkloadResult& p : profiled) {
      for (WorkloadMeasure& m : measures) {
        if (m.result.name != p.name) continue;
        for (size_t i = 0; i < m.result.kernels.size() && i < p.kernels.size(); ++i) {
          m.result.kernels[i].counters = p.kernels[i].counters;
        }
      }
    }
  }
  EvalResult r = assemble_result(measures, compiled.compile_ms);
  r.compile_log = compiled.log;
  r.counters = counters;
  return r;
}

}  // namespace session_detail

using session_detail::Session;

Result<std::unique_ptr<GpuSession>> open_gpu_session(int device, const EvaluatorConfig& config) {
  KEVO_ASSIGN_OR_RETURN(auto ctx, GpuContext::open(device));
  KEVO_ASSIGN_OR_RETURN(double empty_us, ctx->empty_kernel_us());
  return std::unique_ptr<GpuSession>(new Session(std::move(ctx), config, empty_us));
}

EvalResult evaluate_in_process(GpuSession& session, const Candidate& c, const CompileOptions& opt,
                               const std::string& suite, const EvalOptions& options) {
  CompileOptions o = opt;
  o.arch = session.arch();  // the CUBIN must be for exactly this GPU
  CompileOutcome compiled = compile_candidate(c, o);
  return session.evaluate(c, compiled, suite, options);
}

}  // namespace kevo
