// One CUDA context on one GPU, its stream, and the evaluator's internal kernels (internal.cu,
// compiled by NVRTC on open): generation, fp32 reference, errors, checksums, guard bands,
// garbage. Private to the evaluator (GpuSession and tests). Not thread-safe.
//
// Failure model: driver calls return Status. A sticky error (illegal address, trap, ...) or a
// hang poisons the context: poisoned() turns true, and nothing may touch the GPU again (the
// destructor then leaks instead of blocking); the runner process must end.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluator/cuda_driver.h"
#include "evaluator/gpu_info.h"
#include "evaluator/internal_kernels/gen_math.h"
#include "evaluator/task.h"

namespace kevo {

// A device allocation with guard bands: [kGuardBytes | data (bytes) | kGuardBytes]. The data
// starts 256-byte aligned; the trailing band starts right at data + bytes, so even a one-byte
// overrun lands in it.
struct GuardedBuffer {
  static constexpr size_t kGuardBytes = 64 * 1024;
  std::string name;  // "k", "workspace" ... for messages
  CUdeviceptr base = 0;
  CUdeviceptr data = 0;
  size_t bytes = 0;
  uint64_t guard_seed = 0;
};

struct InternalKernels {
  CUfunction gen_kv, gen_q, perturb_q, ref_partial, ref_merge, rel_err, bf16_to_f32, checksum,
      guard_fill, guard_check, garbage, empty;
};

class GpuContext {
 public:
  // Retains device `device`'s primary context, creates a stream, compiles the internal kernels.
  static Result<std::unique_ptr<GpuContext>> open(int device);
  ~GpuContext();
  GpuContext(const GpuContext&) = delete;
  GpuContext& operator=(const GpuContext&) = delete;

  const CudaDriver& drv() const { return *drv_; }
  CUcontext context() const { return ctx_; }
  CUstream stream() const { return stream_; }
  const GpuInfo& info() const { return info_; }
  const InternalKernels& kernels() const { return k_; }
  bool poisoned() const { return poisoned_; }
  void poison() { poisoned_ = true; }

  // A driver call's Status; a sticky error also poisons the context.
  Status check(CUresult r, const std::string& what);

  Result<GuardedBuffer> alloc(const std::string& name, size_t bytes);
  void free(GuardedBuffer& b);  // no-op when poisoned (leaks instead of blocking)

  // Launch of an internal kernel on the stream.
  Status launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned block, void** args);

  // Waits until everything queued so far has run, polling an event until `timeout_s`.
  // Status kTimeout on a hang (context poisoned); a sticky error poisons it too.
  Status wait(double timeout_s);

  // ---- enqueue helpers (asynchronous, on the stream) ----
  Status generate_kv(const kevo_gen::GenParams& p, CUdeviceptr k, CUdeviceptr v);
  Status generate_q(const kevo_gen::GenParams& p, uint64_t call_seed, CUdeviceptr q);
  Status perturb_q(CUdeviceptr base, CUdeviceptr q, int rows, int D, uint64_t call_seed, float sigma);
  // fp32 dense reference o_ref [B, Hq, D] of q over k, v; `part` holds reference_part_bytes().
  Status reference(CUdeviceptr q, CUdeviceptr k, CUdeviceptr v, const Shape& s, CUdeviceptr part,
                   CUdeviceptr o_ref);
  static size_t reference_part_bytes(const Shape& s);
  // out[row] = {err vs r0, vs r1, vs r2, nonfinite} for o (bf16) [rows, D].
  Status rel_err(CUdeviceptr o, CUdeviceptr r0, CUdeviceptr r1, CUdeviceptr r2, int rows, int D,
                 CUdeviceptr out);
  Status bf16_to_f32(CUdeviceptr in, CUdeviceptr out, size_t n);
  // Adds the checksum of [p, p + n) to *out (a device uint64 the caller zeroed).
  Status checksum(CUdeviceptr p, size_t n, CUdeviceptr out);
  Status garbage(CUdeviceptr p, size_t n, uint64_t seed);
  Status poison_bf16(CUdeviceptr p, size_t bytes);  // 0xFF bytes: bf16 NaN
  // Guard bands: set_guards names the buffers (two bands each, in order: leading, trailing) and
  // must be called while the stream is idle (it copies synchronously); fill_guards writes their
  // patterns; check_guards counts changed bytes per band into bad[i] (uint32) and the lowest
  // changed offset into first[i] (uint64).
  Status set_guards(const std::vector<const GuardedBuffer*>& bufs);
  Status fill_guards();
  Status check_guards(CUdeviceptr bad, CUdeviceptr first);
  // Evicts L2: writes a buffer twice the L2 size.
  Status flush_l2();
  // Evicts L2 and leaves it holding clean lines only: reads a buffer twice the L2 size that
  // nothing writes. After flush_l2 (or any write), dirty lines are written back to DRAM while
  // whatever runs next runs; before a timed or profiled call that traffic would count as its
  // own. What the timed and profiled decode calls start from. Allocates that buffer on first use.
  Status evict_l2_clean();
  // Median time of an empty kernel between two events (the launch floor), in microseconds.
  Result<double> empty_kernel_us();

 private:
  GpuContext() = default;
  Status compile_internal();

  const CudaDriver* drv_ = nullptr;
  CUdevice dev_ = 0;
  CUcontext ctx_ = nullptr;
  CUstream stream_ = nullptr;
  CUmodule module_ = nullptr;
  CUevent wait_event_ = nullptr;
  InternalKernels k_{};
  GpuInfo info_;
  GuardedBuffer flush_;
  GuardedBuffer clean_;          // evict_l2_clean's, allocated on first use
  CUdeviceptr clean_sum_ = 0;    // where its read writes its (unused) checksum
  CUdeviceptr guard_table_ = 0;  // GuardRange[64]
  unsigned guard_ranges_ = 0;
  uint32_t flush_value_ = 0;
  uint64_t guard_counter_ = 0;
  bool poisoned_ = false;
};

// NVRTC-compiles the internal kernels for `arch` (no GPU needed); cached per process.
Result<std::string> compile_internal_kernels(const std::string& arch);

// True for errors that leave the context unusable (illegal address, trap, misaligned access...).
bool is_sticky_error(CUresult r);

}  // namespace kevo
