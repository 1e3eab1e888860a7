#include "evaluator/suite_stats.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <thread>

#include "evaluator/generator_host.h"

namespace kevo {
namespace {

// Budgets in increasing k (decreasing divisor), so one pass over the sorted tokens fills them.
constexpr int kAscending[kStatsBudgets] = {3, 2, 1, 0};

int64_t budget_tokens(int N, int div) {
  return std::max<int64_t>(1, (int64_t(N) + div - 1) / div);
}

// Scratch buffers of one worker, reused across rows (a 128K-token row needs a few MB).
struct RowScratch {
  std::vector<double> p, o, acc;
  std::vector<int> order;
};

double dot(const float* a, const float* b, int D) {
  // Four independent lanes: the compiler vectorises them, and the sum order is fixed.
  double s[4] = {0, 0, 0, 0};
  int d = 0;
  for (; d + 4 <= D; d += 4) {
    for (int j = 0; j < 4; ++j) s[j] += double(a[d + j]) * double(b[d + j]);
  }
  for (; d < D; ++d) s[0] += double(a[d]) * double(b[d]);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

AttentionStats row_stats(const float* q, const float* k, const float* v, int N, int D, int sinks,
                         int window, RowScratch& w) {
  AttentionStats st;
  st.rows = 1;
  const double scale = 1.0 / std::sqrt(double(D));
  w.p.resize(N);
  double mx = -INFINITY;
  for (int n = 0; n < N; ++n) mx = std::max(mx, w.p[n] = dot(q, k + size_t(n) * D, D) * scale);
  // H = ln Z - sum p (s - mx) with Z = sum exp(s - mx): no log of tiny probabilities.
  double z = 0, zs = 0;
  for (int n = 0; n < N; ++n) {
    double s = w.p[n] - mx, e = std::exp(s);
    z += e;
    zs += e * s;
    w.p[n] = e;
  }
  st.entropy = std::log(z) - zs / z;
  st.entropy_norm = N > 1 ? st.entropy / std::log(double(N)) : 0.0;
  w.o.assign(D, 0.0);
  for (int n = 0; n < N; ++n) {
    double pn = (w.p[n] /= z);
    const float* vr = v + size_t(n) * D;
    for (int d = 0; d < D; ++d) w.o[d] += pn * vr[d];
  }
  for (int n = 0; n < std::min(sinks, N); ++n) st.sink_mass += w.p[n];
  for (int n = std::max(0, N - window); n < N; ++n) st.recent_mass += w.p[n];

  // The largest budget's tokens in decreasing p (ties to the earlier token: deterministic).
  const int64_t kmax = budget_tokens(N, kStatsBudgetDivs[0]);
  w.order.resize(N);
  std::iota(w.order.begin(), w.order.end(), 0);
  auto before = [&](int a, int b) { return w.p[a] > w.p[b] || (w.p[a] == w.p[b] && a < b); };
  std::nth_element(w.order.begin(), w.order.begin() + (kmax - 1), w.order.end(), before);
  std::sort(w.order.begin(), w.order.begin() + kmax, before);

  double onorm = 0;
  for (double x : w.o) onorm += x * x;
  onorm = std::max(std::sqrt(onorm), 1e-300);
  w.acc.assign(D, 0.0);
  double mass = 0;
  int64_t j = 0;
  for (int bi : kAscending) {
    const int64_t kb = budget_tokens(N, kStatsBudgetDivs[bi]);
    for (; j < kb; ++j) {
      const int n = w.order[j];
      mass += w.p[n];
      const float* vr = v + size_t(n) * D;
      for (int d = 0; d < D; ++d) w.acc[d] += w.p[n] * vr[d];
    }
    double e = 0;
    for (int d = 0; d < D; ++d) {
      double diff = w.acc[d] / mass - w.o[d];
      e += diff * diff;
    }
    st.topk_mass[bi] = mass;
    st.topk_err[bi] = st.topk_err_max[bi] = std::sqrt(e) / onorm;
  }
  return st;
}

// Sums of `add` into `into` (divide by rows afterwards); maxima stay maxima.
void accumulate(AttentionStats& into, const AttentionStats& add) {
  into.rows += add.rows;
  into.entropy += add.entropy;
  into.entropy_norm += add.entropy_norm;
  for (int i = 0; i < kStatsBudgets; ++i) {
    into.topk_mass[i] += add.topk_mass[i];
    into.topk_err[i] += add.topk_err[i];
    into.topk_err_max[i] = std::max(into.topk_err_max[i], add.topk_err_max[i]);
  }
  into.sink_mass += add.sink_mass;
  into.recent_mass += add.recent_mass;
}

// Turns the sums of accumulate() into means over the rows.
void finish_mean(AttentionStats& s) {
  const double n = std::max(1, s.rows);
  s.entropy /= n;
  s.entropy_norm /= n;
  for (int i = 0; i < kStatsBudgets; ++i) {
    s.topk_mass[i] /= n;
    s.topk_err[i] /= n;
  }
  s.sink_mass /= n;
  s.recent_mass /= n;
}

std::vector<float> to_float(const uint16_t* bits, size_t n) {
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = bf16_bits_to_float(bits[i]);
  return out;
}

}  // namespace

// The workload's queries as floats: [queries][B * Hq * D].
std::vector<std::vector<float>> workload_queries(const WorkloadSpec& w, int want, int& count) {
  const Shape& s = w.shape;
  const size_t per = size_t(s.B) * s.Hq * s.D;
  std::vector<std::vector<float>> out;
  if (w.tensors) {
    count = std::max(1, std::min(want, w.tensors->queries));
    for (int j = 0; j < count; ++j) out.push_back(to_float(w.tensors->q.data() + j * per, per));
    return out;
  }
  count = std::max(1, want);
  const kevo_gen::GenParams p = make_gen_params(w);
  for (int j = 0; j < count; ++j) {
    std::vector<uint16_t> q = generate_q_host(p, stats_call_seed(w, j));
    out.push_back(to_float(q.data(), q.size()));
  }
  return out;
}

// K and V of KV head h, batch row b, as floats [N, D].
void kv_slice(const WorkloadSpec& w, int b, int h, std::vector<float>& k, std::vector<float>& v) {
  const Shape& s = w.shape;
  const size_t n_el = size_t(s.N) * s.D;
  if (w.tensors) {
    const size_t off = (size_t(b) * s.Hkv + h) * n_el;
    k = to_float(w.tensors->k.data() + off, n_el);
    v = to_float(w.tensors->v.data() + off, n_el);
    return;
  }
  const kevo_gen::GenParams p = make_gen_params(w);
  k.resize(n_el);
  v.resize(n_el);
  const int half = s.D / 2;
  for (int n = 0; n < s.N; ++n) {
    float* kr = k.data() + size_t(n) * s.D;
    float* vr = v.data() + size_t(n) * s.D;
    for (int i = 0; i < half; ++i) {
      kevo_gen::u16 kk[2], vv[2];
      kevo_gen::kv_pair(p, b, h, n, i, kk, vv);
      kr[i] = kevo_gen::bf16_to_f32(kk[0]);
      kr[i + half] = kevo_gen::bf16_to_f32(kk[1]);
      vr[i] = kevo_gen::bf16_to_f32(vv[0]);
      vr[i + half] = kevo_gen::bf16_to_f32(vv[1]);
    }
  }
}

uint64_t stats_call_seed(const WorkloadSpec& w, int j) {
  return kevo_gen::mix64(w.seed * 0x9E3779B97F4A7C15ull + 0x5157A75ull + uint64_t(j));
}

AttentionStats row_attention_stats(const float* q, const float* k, const float* v, int N, int D,
                                   int sinks, int window) {
  RowScratch w;
  return row_stats(q, k, v, N, D, sinks, window, w);
}

WorkloadStats compute_workload_stats(const WorkloadSpec& w, const SuiteStatsOptions& opt) {
  const Shape& s = w.shape;
  const int G = s.Hq / s.Hkv;
  WorkloadStats out;
  out.name = w.name;
  out.shape = s;
  out.captured = bool(w.tensors);
  const auto queries = workload_queries(w, opt.queries, out.queries);

  // One task per (batch row, KV head): its K/V slice is made once and serves G x queries rows.
  const int tasks = s.B * s.Hkv;
  std::vector<AttentionStats> per_task(tasks);
  std::atomic<int> next{0};
  auto worker = [&] {
    RowScratch scratch;
    std::vector<float> k, v;
    for (int t; (t = next.fetch_add(1)) < tasks;) {
      const int b = t / s.Hkv, h = t % s.Hkv;
      kv_slice(w, b, h, k, v);
      for (int hq = h * G; hq < (h + 1) * G; ++hq) {
        for (const auto& q : queries) {
          const float* qr = q.data() + (size_t(b) * s.Hq + hq) * s.D;
          accumulate(per_task[t],
                     row_stats(qr, k.data(), v.data(), s.N, s.D, opt.sinks, opt.window, scratch));
        }
      }
    }
  };
  int threads = opt.threads > 0 ? opt.threads : int(std::thread::hardware_concurrency());
  threads = std::clamp(threads, 1, tasks);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();

  // Fixed reduction order (batch rows in turn), so the figures do not depend on thread timing.
  out.groups.assign(s.Hkv, AttentionStats{});
  for (int t = 0; t < tasks; ++t) accumulate(out.groups[t % s.Hkv], per_task[t]);
  for (auto& g : out.groups) accumulate(out.all, g);
  for (auto& g : out.groups) finish_mean(g);
  finish_mean(out.all);
  return out;
}

SuiteStats compute_suite_stats(const Suite& suite, const SuiteStatsOptions& opt) {
  SuiteStats out;
  out.suite = suite.name;
  out.file = suite.file;
  out.options = opt;
  out.options.on_workload = nullptr;
  for (size_t i = 0; i < suite.workloads.size(); ++i) {
    out.workloads.push_back(compute_workload_stats(suite.workloads[i], opt));
    if (opt.on_workload) opt.on_workload(i, suite.workloads.size(), suite.workloads[i].name);
  }
  return out;
}

}  // namespace kevo
