#include "evaluator/workload_data.h"

#include "evaluator/generator_host.h"

namespace kevo {

Result<std::unique_ptr<WorkloadData>> create_workload_data(GpuContext& c, const WorkloadSpec& w) {
  auto d = std::make_unique<WorkloadData>();
  d->spec = w;
  d->gen = make_gen_params(w);
  const Shape& s = w.shape;
  const size_t kv_bytes = size_t(s.B) * s.Hkv * s.N * s.D * 2;
  const CudaDriver& drv = c.drv();
  auto fail = [&](Status st) {
    free_workload_data(c, *d);
    return st.with_context("preparing workload " + w.name);
  };
  auto k = c.alloc("k", kv_bytes);
  if (!k.ok()) return fail(k.status());
  d->k = *k;
  auto v = c.alloc("v", kv_bytes);
  if (!v.ok()) return fail(v.status());
  d->v = *v;
  Status st;
  if (w.tensors) {
    const CapturedTensors& t = *w.tensors;
    st = c.check(drv.cuMemcpyHtoD(d->k.data, t.k.data(), kv_bytes), "uploading k");
    if (st.ok()) st = c.check(drv.cuMemcpyHtoD(d->v.data, t.v.data(), kv_bytes), "uploading v");
    if (st.ok()) {
      auto qb = c.alloc("captured q", t.q.size() * 2);
      if (!qb.ok()) return fail(qb.status());
      d->q_base = *qb;
      st = c.check(drv.cuMemcpyHtoD(d->q_base.data, t.q.data(), t.q.size() * 2), "uploading q");
    }
  } else {
    st = c.generate_kv(d->gen, d->k.data, d->v.data);
  }
  if (!st.ok()) return fail(st);
  auto sums = c.alloc("checksums", 16);
  if (!sums.ok()) return fail(sums.status());
  st = c.check(drv.cuMemsetD8Async(sums->data, 0, 16, c.stream()), "cuMemsetD8Async");
  if (st.ok()) st = enqueue_kv_checksums(c, *d, sums->data);
  // Generation is a few milliseconds per GB; a minute means something is badly wrong.
  if (st.ok()) st = c.wait(60.0);
  uint64_t host[2] = {0, 0};
  if (st.ok()) st = c.check(drv.cuMemcpyDtoH(host, sums->data, 16), "reading checksums");
  c.free(*sums);
  if (!st.ok()) return fail(st);
  d->k_sum = host[0];
  d->v_sum = host[1];
  return d;
}

void free_workload_data(GpuContext& c, WorkloadData& d) {
  c.free(d.k);
  c.free(d.v);
  c.free(d.q_base);
}

Status enqueue_query(GpuContext& c, const WorkloadData& d, uint64_t call_seed, CUdeviceptr q) {
  if (!d.spec.tensors) return c.generate_q(d.gen, call_seed, q);
  const Shape& s = d.spec.shape;
  const int rows = s.B * s.Hq;
  const uint64_t pick = kevo_gen::mix64(call_seed) % uint64_t(d.spec.tensors->queries);
  const CUdeviceptr base = d.q_base.data + pick * uint64_t(rows) * s.D * 2;
  return c.perturb_q(base, q, rows, s.D, call_seed, 0.1f);
}

Status enqueue_kv_checksums(GpuContext& c, const WorkloadData& d, CUdeviceptr sums) {
  KEVO_RETURN_IF_ERROR(c.checksum(d.k.data, d.k.bytes, sums));
  return c.checksum(d.v.data, d.v.bytes, sums + 8);
}

}  // namespace kevo
