// compile_candidate: directives, source checks, then NVRTC to a CUBIN with the task headers
// supplied from memory. Everything a bad candidate can do ends as a CompileOutcome status; the
// only thing NVRTC ever reads from disk is the allow-listed CUDA headers.
#include "evaluator/nvrtc_compile.h"

#include <cxxabi.h>
#include <nvrtc.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <chrono>
#include <cstdlib>
#include <regex>
#include <sstream>

#include "common/hash.h"
#include "common/log.h"
#include "evaluator/compile_cache.h"
#include "evaluator/compile_log.h"
#include "evaluator/device_headers.h"
#include "evaluator/source_check.h"

namespace kevo {
namespace {

using Clock = std::chrono::steady_clock;

// NVRTC 13 keeps a compile cache of its own when a CUDA driver is present (it reads
// CUDA_CACHE_DISABLE; without a driver it is off). A hit returns the CUBIN without ptxas's
// report, so a kernel's registers and spills went missing: on the H100 (NVRTC 13.0.88) the second
// identical compile in a process came back in milliseconds with an empty log. kevo caches CUBINs
// together with their reports (compile_cache.h), so NVRTC's cache is turned off here, before any
// thread runs. kevo loads CUBINs only, so the driver's PTX JIT cache (same variable) is unused.
[[maybe_unused]] const bool kNvrtcCacheOff = [] {
  setenv("CUDA_CACHE_DISABLE", "1", 1);
  return true;
}();

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// nvrtcSetFlowCallback: NVRTC asks this at points during compilation; 1 cancels. It must keep
// answering 1 once it has, and be thread-safe (it only reads the clock and an atomic).
struct Deadline {
  Clock::time_point at;
  std::atomic<bool> passed{false};
};

int flow_callback(void* payload, void* /*reserved*/) {
  auto* d = static_cast<Deadline*>(payload);
  if (d->passed.load() || Clock::now() >= d->at) {
    d->passed.store(true);
    return 1;
  }
  return 0;
}

class ProgramGuard {
 public:
  explicit ProgramGuard(nvrtcProgram p) : p_(p) {}
  ~ProgramGuard() { nvrtcDestroyProgram(&p_); }
  ProgramGuard(const ProgramGuard&) = delete;
  ProgramGuard& operator=(const ProgramGuard&) = delete;

 private:
  nvrtcProgram p_;
};

CompileOutcome failure(EvalStatus status, std::string message) {
  CompileOutcome o;
  o.status = status;
  o.message = std::move(message);
  return o;
}

// "attend(kevo::Args)" -> "attend", "ns::k<4>(kevo::Args)" -> "k": the function's own name.
std::string bare_function_name(const std::string& demangled) {
  std::string s = demangled.substr(0, demangled.find('('));
  if (size_t lt = s.find('<'); lt != std::string::npos) s = s.substr(0, lt);
  if (size_t colon = s.rfind("::"); colon != std::string::npos) s = s.substr(colon + 2);
  return s;
}

// Every kernel the plan names must be an entry function of the CUBIN under that exact name.
// When a C++ (mangled) entry has the plan's name, the missing extern "C" is the cause and the
// message says so; otherwise it lists the kernels that are there, demangled.
Status check_plan_kernels(const TaskSpec& spec, const std::vector<KernelResources>& entries) {
  if (entries.empty()) return Status::Ok();  // no ptxas report to check against
  for (const auto& k : spec.kernels) {
    bool found = false, mangled = false;
    for (const auto& e : entries) {
      found |= e.name == k.name;
      mangled |= e.name != k.name && bare_function_name(demangle_kernel_name(e.name)) == k.name;
    }
    if (found) continue;
    std::string names;
    for (const auto& e : entries)
      names += (names.empty() ? "" : ", ") + demangle_kernel_name(e.name);
    std::string what =
        "line " + std::to_string(k.line) + ": the plan names kernel '" + k.name + "'";
    if (mangled) {
      what +=
          ", which is declared without extern \"C\", so its symbol has a C++ name the plan "
          "cannot find: declare it extern \"C\" __global__";
    } else {
      what += ", but the file has no __global__ function of that name";
    }
    return Status::InvalidArgument(what + " (kernels found: " + names + ")");
  }
  return Status::Ok();
}

// The include folders as NVRTC prints them (as given) and canonical, each ending in '/',
// longest first so "<inc>/cccl/" is cut before "<inc>/".
std::vector<std::string> toolkit_prefixes(const std::vector<std::string>& dirs) {
  std::vector<std::string> out;
  for (const auto& d : dirs) {
    std::error_code ec;
    for (std::string p : {d, std::filesystem::weakly_canonical(d, ec).string()}) {
      if (p.empty()) continue;
      if (p.back() != '/') p += '/';
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    }
  }
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

}  // namespace

const std::string& device_headers_hash() {
  static const std::string hash = [] {
    Sha256 h;
    for (const auto& f : embedded_device_headers()) {
      h.update_field(f.path);
      h.update_field(f.contents);
    }
    return h.hex_digest();
  }();
  return hash;
}

std::string nvrtc_version() {
  int major = 0, minor = 0;
  nvrtcVersion(&major, &minor);
  return std::to_string(major) + "." + std::to_string(minor);
}

std::vector<std::string> cuda_include_dirs(const CompileOptions& opt) {
  return {opt.cuda_include_dir, opt.cuda_include_dir + "/cccl"};
}

std::vector<std::string> nvrtc_options(const CompileOptions& opt,
                                       const std::map<std::string, int64_t>& params) {
  std::vector<std::string> o = {"-arch=" + opt.arch, "-std=c++17", "-default-device", "-lineinfo",
                                "--ptxas-options=-v"};
  for (const auto& dir : cuda_include_dirs(opt)) o.push_back("-I" + dir);
  for (const auto& [name, value] : params) o.push_back("-D" + name + "=" + std::to_string(value));
  return o;
}

std::string demangle_kernel_name(const std::string& name) {
  if (name.rfind("_Z", 0) != 0) return name;
  int status = 0;
  char* d = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  if (status != 0 || !d) return name;
  std::string out(d);
  std::free(d);
  return out;
}

std::optional<CompileOutcome> cached_compile(const Candidate& c, const CompileOptions& opt) {
  if (opt.cache_dir.empty()) return std::nullopt;
  auto spec = parse_task_spec(c.source);
  if (!spec.ok()) return std::nullopt;
  auto params = spec->resolve_params(c.params);
  if (!params.ok()) return std::nullopt;
  const std::string key =
      compile_cache_key(c.source, *params, opt.arch, nvrtc_version(), nvrtc_options(opt, *params));
  auto hit = cache_load(opt.cache_dir, key);
  if (!hit) return std::nullopt;
  hit->cache_hit = true;
  hit->params = *params;
  return hit;
}

void store_compile(const Candidate& c, const CompileOptions& opt, const CompileOutcome& outcome) {
  if (opt.cache_dir.empty() || outcome.status != EvalStatus::kOk || outcome.cubin.empty()) return;
  auto spec = parse_task_spec(c.source);
  if (!spec.ok()) return;
  auto params = spec->resolve_params(c.params);
  if (!params.ok()) return;
  const std::string key =
      compile_cache_key(c.source, *params, opt.arch, nvrtc_version(), nvrtc_options(opt, *params));
  Status stored = cache_store(opt.cache_dir, key, outcome);
  if (!stored.ok()) spdlog::warn("compile cache: {}", stored.message());
}

Status check_candidate(const Candidate& c, const CompileOptions& opt) {
  KEVO_ASSIGN_OR_RETURN(TaskSpec spec, parse_task_spec(c.source));
  KEVO_RETURN_IF_ERROR(spec.resolve_params(c.params).status());
  SourceCheckOptions check;
  check.include_dirs = cuda_include_dirs(opt);
  for (const auto& f : embedded_device_headers()) check.task_headers.emplace_back(f.path);
  return check_source(c.source, check);
}

CompileOutcome compile_candidate(const Candidate& c, const CompileOptions& opt) {
  const auto t0 = Clock::now();
  auto done = [&](CompileOutcome o) {
    o.compile_ms = ms_since(t0);
    return o;
  };
  // The arch goes into an option string: accept only the shapes NVRTC knows (sm_90, sm_90a...).
  static const std::regex kArch(R"(sm_\d{2,3}[af]?)");
  if (!std::regex_match(opt.arch, kArch)) {
    return done(failure(EvalStatus::kCompileError, "unsupported architecture '" + opt.arch +
                                                       "' (expected e.g. sm_90a)"));
  }

  auto spec = parse_task_spec(c.source);
  if (!spec.ok()) return done(failure(EvalStatus::kRejectedSource, spec.status().message()));
  auto params = spec->resolve_params(c.params);
  if (!params.ok()) return done(failure(EvalStatus::kRejectedSource, params.status().message()));

  SourceCheckOptions check;
  check.include_dirs = cuda_include_dirs(opt);
  for (const auto& f : embedded_device_headers()) check.task_headers.emplace_back(f.path);
  Status checked = check_source(c.source, check);
  if (!checked.ok()) {
    auto o = failure(EvalStatus::kRejectedSource, checked.message());
    o.params = *params;
    return done(o);
  }

  const std::vector<std::string> options = nvrtc_options(opt, *params);
  std::string key;
  if (!opt.cache_dir.empty()) {
    key = compile_cache_key(c.source, *params, opt.arch, nvrtc_version(), options);
    if (auto hit = cache_load(opt.cache_dir, key)) {
      hit->cache_hit = true;
      hit->params = *params;
      return done(std::move(*hit));
    }
  }

  std::vector<std::string> header_names, header_texts;
  for (const auto& f : embedded_device_headers()) {
    header_names.emplace_back(f.path);
    header_texts.emplace_back(f.contents);
  }
  std::vector<const char*> names_c, texts_c, options_c;
  for (size_t i = 0; i < header_names.size(); ++i) {
    names_c.push_back(header_names[i].c_str());
    texts_c.push_back(header_texts[i].c_str());
  }
  for (const auto& o : options) options_c.push_back(o.c_str());

  nvrtcProgram prog = nullptr;
  nvrtcResult r = nvrtcCreateProgram(&prog, c.source.c_str(), kCandidateProgramName,
                                     static_cast<int>(names_c.size()), texts_c.data(), names_c.data());
  if (r != NVRTC_SUCCESS) {
    return done(failure(EvalStatus::kCompileError, std::string("NVRTC could not create the program: ") +
                                                       nvrtcGetErrorString(r)));
  }
  ProgramGuard guard(prog);
  Deadline deadline;
  if (opt.timeout_s > 0) {
    deadline.at = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.timeout_s));
    nvrtcSetFlowCallback(prog, flow_callback, &deadline);
  }
  r = nvrtcCompileProgram(prog, static_cast<int>(options_c.size()), options_c.data());

  size_t log_size = 0;
  std::string raw_log;
  if (nvrtcGetProgramLogSize(prog, &log_size) == NVRTC_SUCCESS && log_size > 1) {
    raw_log.resize(log_size);
    nvrtcGetProgramLog(prog, raw_log.data());
    raw_log.resize(log_size - 1);  // the size counts the terminating NUL
  }
  CompileOutcome out;
  out.params = *params;
  LogCutOptions cut;
  cut.program_name = kCandidateProgramName;
  cut.toolkit_dirs = toolkit_prefixes(check.include_dirs);
  out.log = cut_compile_log(raw_log, cut);

  if (r != NVRTC_SUCCESS && (r == NVRTC_ERROR_CANCELLED || deadline.passed.load())) {
    out.status = EvalStatus::kTimeout;
    std::ostringstream limit;
    limit << opt.timeout_s;
    out.message = "compilation did not finish within its deadline of " + limit.str() +
                  " s; make the code smaller (fewer template instantiations, less unrolling)";
    return done(out);
  }
  if (r != NVRTC_SUCCESS) {
    out.status = EvalStatus::kCompileError;
    std::string first = first_error(out.log, kCandidateProgramName);
    // Template-heavy errors run to kilobytes; the message is one readable line, the log has more.
    constexpr size_t kMaxMessage = 600;
    if (first.size() > kMaxMessage) first = first.substr(0, kMaxMessage) + " ... (see the compile log)";
    out.message = first.empty() ? std::string("NVRTC failed: ") + nvrtcGetErrorString(r) : first;
    return done(out);
  }

  size_t cubin_size = 0;
  if (nvrtcGetCUBINSize(prog, &cubin_size) != NVRTC_SUCCESS || cubin_size == 0) {
    out.status = EvalStatus::kCompileError;
    out.message = "NVRTC produced no CUBIN for " + opt.arch + " (a virtual compute_ architecture?)";
    return done(out);
  }
  out.cubin.resize(cubin_size);
  nvrtcGetCUBIN(prog, out.cubin.data());
  out.kernels = parse_ptxas_resources(raw_log);

  Status kernels_ok = check_plan_kernels(*spec, out.kernels);
  if (!kernels_ok.ok()) {
    out.status = EvalStatus::kCompileError;
    out.message = kernels_ok.message();
    out.cubin.clear();
    out.kernels.clear();
    return done(out);
  }
  // Plan order (the order they run in), then entries the plan does not launch.
  auto plan_index = [&](const KernelResources& k) {
    for (size_t i = 0; i < spec->kernels.size(); ++i) {
      if (spec->kernels[i].name == k.name) return i;
    }
    return spec->kernels.size();
  };
  std::stable_sort(out.kernels.begin(), out.kernels.end(),
                   [&](const auto& a, const auto& b) { return plan_index(a) < plan_index(b); });
  if (!key.empty()) {
    Status stored = cache_store(opt.cache_dir, key, out);
    if (!stored.ok()) spdlog::warn("compile cache: {}", stored.message());
  }
  return done(out);
}

}  // namespace kevo
