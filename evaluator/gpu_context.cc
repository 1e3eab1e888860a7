#include "evaluator/gpu_context.h"

#include <nvrtc.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "evaluator/generator_host.h"

namespace kevo {

namespace {

constexpr int kMaxGuardRanges = 64;
struct GuardRangeHost {
  uint64_t ptr, bytes, seed;
};

unsigned grid_for(uint64_t items, unsigned block, unsigned cap = 65535) {
  uint64_t g = (items + block - 1) / block;
  return unsigned(std::clamp<uint64_t>(g, 1, cap));
}

}  // namespace

// CUBINs of internal.cu per architecture, shared by every context of the process: tests and a
// runner open several sessions, and NVRTC takes about a second for this file.
Result<std::string> compile_internal_kernels(const std::string& arch) {
  static std::mutex mu;
  static std::map<std::string, std::string> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(arch); it != cache.end()) return it->second;
  std::string src(internal_kernel_file("internal.cu")), hdr(internal_kernel_file("gen_math.h"));
  const char* hdrs[] = {hdr.c_str()};
  const char* names[] = {"gen_math.h"};
  nvrtcProgram prog;
  if (nvrtcCreateProgram(&prog, src.c_str(), "internal.cu", 1, hdrs, names) != NVRTC_SUCCESS) {
    return Status::Internal("nvrtcCreateProgram failed for the evaluator's internal kernels");
  }
  std::string arch_opt = "-arch=" + arch;
  const char* opts[] = {arch_opt.c_str(), "-std=c++17"};
  nvrtcResult r = nvrtcCompileProgram(prog, 2, opts);
  std::string log;
  size_t n = 0;
  nvrtcGetProgramLogSize(prog, &n);
  log.resize(n);
  if (n) nvrtcGetProgramLog(prog, log.data());
  if (r != NVRTC_SUCCESS) {
    nvrtcDestroyProgram(&prog);
    return Status::Internal("the evaluator's internal kernels do not compile for " + arch + ": " +
                            nvrtcGetErrorString(r) + "\n" + log);
  }
  size_t size = 0;
  nvrtcGetCUBINSize(prog, &size);
  std::string cubin(size, '\0');
  nvrtcGetCUBIN(prog, cubin.data());
  nvrtcDestroyProgram(&prog);
  cache[arch] = cubin;
  return cubin;
}

bool is_sticky_error(CUresult r) {
  switch (r) {
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ASSERT:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
    case CUDA_ERROR_ECC_UNCORRECTABLE:
    case CUDA_ERROR_CONTEXT_IS_DESTROYED:
      return true;
    default:
      return false;
  }
}

Status GpuContext::check(CUresult r, const std::string& what) {
  if (r == CUDA_SUCCESS) return Status::Ok();
  if (is_sticky_error(r)) poisoned_ = true;
  return Status::Unavailable(what + ": " + drv_->error_text(r));
}

#define KEVO_CTX(call) KEVO_RETURN_IF_ERROR(check(drv_->call, #call))

Result<std::unique_ptr<GpuContext>> GpuContext::open(int device) {
  KEVO_ASSIGN_OR_RETURN(const CudaDriver* d, cuda_driver());
  if (device < 0 || device >= d->device_count) {
    return Status::InvalidArgument("no GPU " + std::to_string(device) + " (the driver sees " +
                                   std::to_string(d->device_count) + ")");
  }
  KEVO_ASSIGN_OR_RETURN(auto gpus, query_gpus(/*measure_bandwidth=*/true));
  std::unique_ptr<GpuContext> c(new GpuContext());
  c->drv_ = d;
  c->info_ = gpus[device];
  KEVO_RETURN_IF_ERROR(c->check(d->cuDeviceGet(&c->dev_, device), "cuDeviceGet"));
  KEVO_RETURN_IF_ERROR(c->check(d->cuDevicePrimaryCtxRetain(&c->ctx_, c->dev_), "cuDevicePrimaryCtxRetain"));
  KEVO_RETURN_IF_ERROR(c->check(d->cuCtxSetCurrent(c->ctx_), "cuCtxSetCurrent"));
  KEVO_RETURN_IF_ERROR(c->check(d->cuStreamCreate(&c->stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate"));
  KEVO_RETURN_IF_ERROR(c->check(d->cuEventCreate(&c->wait_event_, CU_EVENT_DISABLE_TIMING), "cuEventCreate"));
  KEVO_RETURN_IF_ERROR(c->compile_internal());
  KEVO_RETURN_IF_ERROR(c->check(d->cuMemAlloc(&c->guard_table_, kMaxGuardRanges * sizeof(GuardRangeHost)), "cuMemAlloc"));
  // Twice the L2: whatever a timed call could find cached is gone after writing it.
  KEVO_ASSIGN_OR_RETURN(c->flush_, c->alloc("l2-flush", size_t(std::max<int64_t>(c->info_.l2_bytes, 1 << 20)) * 2));
  return c;
}

GpuContext::~GpuContext() {
  if (!drv_ || poisoned_) return;  // a poisoned context may block forever: leak, the process ends
  drv_->cuCtxSetCurrent(ctx_);
  drv_->cuStreamSynchronize(stream_);
  free(flush_);
  free(clean_);
  if (clean_sum_) drv_->cuMemFree(clean_sum_);
  if (guard_table_) drv_->cuMemFree(guard_table_);
  if (module_) drv_->cuModuleUnload(module_);
  if (wait_event_) drv_->cuEventDestroy(wait_event_);
  if (stream_) drv_->cuStreamDestroy(stream_);
  if (ctx_) drv_->cuDevicePrimaryCtxRelease(dev_);
}

Status GpuContext::compile_internal() {
  KEVO_ASSIGN_OR_RETURN(std::string cubin, compile_internal_kernels(info_.arch()));
  KEVO_CTX(cuModuleLoadData(&module_, cubin.data()));
  struct Named {
    CUfunction* f;
    const char* name;
  } fns[] = {{&k_.gen_kv, "gen_kv"},         {&k_.gen_q, "gen_q"},
             {&k_.perturb_q, "perturb_q"},   {&k_.ref_partial, "ref_partial"},
             {&k_.ref_merge, "ref_merge"},   {&k_.rel_err, "rel_err"},
             {&k_.bf16_to_f32, "bf16_to_f32_kernel"}, {&k_.checksum, "checksum"},
             {&k_.guard_fill, "guard_fill"}, {&k_.guard_check, "guard_check"},
             {&k_.garbage, "garbage"},       {&k_.empty, "empty_kernel"}};
  for (auto& n : fns) {
    KEVO_RETURN_IF_ERROR(check(drv_->cuModuleGetFunction(n.f, module_, n.name), n.name));
  }
  return Status::Ok();
}

Result<GuardedBuffer> GpuContext::alloc(const std::string& name, size_t bytes) {
  GuardedBuffer b;
  b.name = name;
  b.bytes = bytes;
  b.guard_seed = 0x6B65766F00000000ull + ++guard_counter_;
  Status st = check(drv_->cuMemAlloc(&b.base, bytes + 2 * GuardedBuffer::kGuardBytes), "cuMemAlloc");
  if (!st.ok()) {
    return st.with_context("allocating " + std::to_string(bytes >> 20) + " MiB for " + name);
  }
  b.data = b.base + GuardedBuffer::kGuardBytes;
  return b;
}

void GpuContext::free(GuardedBuffer& b) {
  if (b.base && !poisoned_) drv_->cuMemFree(b.base);
  b.base = b.data = 0;
}

Status GpuContext::launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned block,
                          void** args) {
  return check(drv_->cuLaunchKernel(f, gx, gy, gz, block, 1, 1, 0, stream_, args, nullptr),
               "launching an evaluator kernel");
}

Status GpuContext::wait(double timeout_s) {
  KEVO_CTX(cuEventRecord(wait_event_, stream_));
  auto start = std::chrono::steady_clock::now();
  auto nap = std::chrono::microseconds(20);
  while (true) {
    CUresult r = drv_->cuEventQuery(wait_event_);
    if (r == CUDA_SUCCESS) return Status::Ok();
    if (r != CUDA_ERROR_NOT_READY) {
      poisoned_ = true;  // any asynchronous error here comes from a kernel
      return Status::Unavailable(drv_->error_text(r));
    }
    double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited > timeout_s) {
      poisoned_ = true;  // the kernel still runs; only ending the process stops it
      return Status::Timeout("still running after " + std::to_string(int(timeout_s * 1000)) + " ms");
    }
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(1000));
  }
}

Status GpuContext::generate_kv(const kevo_gen::GenParams& p, CUdeviceptr k, CUdeviceptr v) {
  kevo_gen::GenParams pp = p;
  void* args[] = {&pp, &k, &v};
  uint64_t pairs = uint64_t(p.B) * p.Hkv * p.N * (p.D / 2);
  return launch(k_.gen_kv, grid_for(pairs, 256, 1 << 20), 1, 1, 256, args);
}

Status GpuContext::generate_q(const kevo_gen::GenParams& p, uint64_t call_seed, CUdeviceptr q) {
  kevo_gen::GenParams pp = p;
  void* args[] = {&pp, &call_seed, &q};
  return launch(k_.gen_q, grid_for(uint64_t(p.B) * p.Hq, 64), 1, 1, 64, args);
}

Status GpuContext::perturb_q(CUdeviceptr base, CUdeviceptr q, int rows, int D, uint64_t call_seed,
                             float sigma) {
  void* args[] = {&base, &q, &rows, &D, &call_seed, &sigma};
  return launch(k_.perturb_q, grid_for(rows, 64), 1, 1, 64, args);
}

size_t GpuContext::reference_part_bytes(const Shape& s) {
  size_t tiles = (size_t(s.N) + 255) / 256;
  return size_t(s.B) * s.Hq * tiles * (s.D + 2) * sizeof(float);
}

Status GpuContext::reference(CUdeviceptr q, CUdeviceptr k, CUdeviceptr v, const Shape& s,
                             CUdeviceptr part, CUdeviceptr o_ref) {
  int B = s.B, Hq = s.Hq, Hkv = s.Hkv, N = s.N, D = s.D;
  int tiles = (N + 255) / 256;
  void* a1[] = {&q, &k, &v, &B, &Hq, &Hkv, &N, &D, &part};
  KEVO_RETURN_IF_ERROR(launch(k_.ref_partial, tiles, Hkv, B, 256, a1));
  void* a2[] = {&part, &tiles, &D, &o_ref};
  return launch(k_.ref_merge, B * Hq, 1, 1, 256, a2);
}

Status GpuContext::rel_err(CUdeviceptr o, CUdeviceptr r0, CUdeviceptr r1, CUdeviceptr r2, int rows,
                           int D, CUdeviceptr out) {
  void* args[] = {&o, &r0, &r1, &r2, &rows, &D, &out};
  return launch(k_.rel_err, grid_for(rows, 8), 1, 1, 256, args);  // 8 warps, one row each
}

Status GpuContext::bf16_to_f32(CUdeviceptr in, CUdeviceptr out, size_t n) {
  uint64_t nn = n;
  void* args[] = {&in, &out, &nn};
  return launch(k_.bf16_to_f32, grid_for(n, 256, 4096), 1, 1, 256, args);
}

Status GpuContext::checksum(CUdeviceptr p, size_t n, CUdeviceptr out) {
  uint64_t nn = n;
  void* args[] = {&p, &nn, &out};
  unsigned blocks = grid_for(n / 16 + 1, 256, unsigned(std::max(1, info_.sm_count) * 8));
  return launch(k_.checksum, blocks, 1, 1, 256, args);
}

Status GpuContext::garbage(CUdeviceptr p, size_t n, uint64_t seed) {
  if (n == 0) return Status::Ok();
  uint64_t nn = n;
  void* args[] = {&p, &nn, &seed};
  return launch(k_.garbage, grid_for(n / 8 + 1, 256, unsigned(std::max(1, info_.sm_count) * 8)), 1,
                1, 256, args);
}

Status GpuContext::poison_bf16(CUdeviceptr p, size_t bytes) {
  KEVO_CTX(cuMemsetD8Async(p, 0xFF, bytes, stream_));
  return Status::Ok();
}

Status GpuContext::set_guards(const std::vector<const GuardedBuffer*>& bufs) {
  std::vector<GuardRangeHost> t;
  for (const GuardedBuffer* b : bufs) {
    // The leading band gets seed * 2, the trailing one seed * 2 + 1: a band copied onto the
    // other does not look intact.
    t.push_back({b->base, GuardedBuffer::kGuardBytes, b->guard_seed * 2});
    t.push_back({b->data + b->bytes, GuardedBuffer::kGuardBytes, b->guard_seed * 2 + 1});
  }
  if (t.size() > size_t(kMaxGuardRanges)) return Status::Internal("too many guarded buffers");
  guard_ranges_ = unsigned(t.size());
  // Synchronous on purpose: called only while the stream is idle (no candidate work queued).
  KEVO_CTX(cuMemcpyHtoD(guard_table_, t.data(), t.size() * sizeof(GuardRangeHost)));
  return Status::Ok();
}

Status GpuContext::fill_guards() {
  void* args[] = {&guard_table_};
  return launch(k_.guard_fill, 64, guard_ranges_, 1, 256, args);
}

Status GpuContext::check_guards(CUdeviceptr bad, CUdeviceptr first) {
  KEVO_CTX(cuMemsetD8Async(bad, 0, guard_ranges_ * sizeof(uint32_t), stream_));
  KEVO_CTX(cuMemsetD8Async(first, 0xFF, guard_ranges_ * sizeof(uint64_t), stream_));
  void* args[] = {&guard_table_, &bad, &first};
  return launch(k_.guard_check, 64, guard_ranges_, 1, 256, args);
}

Status GpuContext::flush_l2() {
  KEVO_CTX(cuMemsetD32Async(flush_.data, ++flush_value_, flush_.bytes / 4, stream_));
  return Status::Ok();
}

Status GpuContext::evict_l2_clean() {
  if (!clean_.base) {
    KEVO_ASSIGN_OR_RETURN(clean_, alloc("l2-clean", flush_.bytes));
    KEVO_CTX(cuMemAlloc(&clean_sum_, sizeof(uint64_t)));
    KEVO_CTX(cuMemsetD32Async(clean_.data, 0, clean_.bytes / 4, stream_));
    KEVO_RETURN_IF_ERROR(flush_l2());  // writes back the memset's lines: clean_ is clean in DRAM
  }
  return checksum(clean_.data, clean_.bytes, clean_sum_);
}

Result<double> GpuContext::empty_kernel_us() {
  CUevent a, b;
  KEVO_CTX(cuEventCreate(&a, CU_EVENT_DEFAULT));
  KEVO_CTX(cuEventCreate(&b, CU_EVENT_DEFAULT));
  std::vector<float> ms;
  Status st;
  for (int i = 0; i < 25 && st.ok(); ++i) {
    st = check(drv_->cuEventRecord(a, stream_), "cuEventRecord");
    if (st.ok()) st = launch(k_.empty, 1, 1, 1, 32, nullptr);
    if (st.ok()) st = check(drv_->cuEventRecord(b, stream_), "cuEventRecord");
    if (st.ok()) st = wait(5.0);
    float t = 0;
    if (st.ok()) st = check(drv_->cuEventElapsedTime(&t, a, b), "cuEventElapsedTime");
    if (i >= 5) ms.push_back(t);
  }
  drv_->cuEventDestroy(a);
  drv_->cuEventDestroy(b);
  KEVO_RETURN_IF_ERROR(st);
  std::sort(ms.begin(), ms.end());
  return double(ms[ms.size() / 2]) * 1000.0;
}

}  // namespace kevo
