// magicpig_lsh's selection on the CPU: the share of tokens its shared proposal samples and the
// error of its importance-weighted estimate, per (KBITS, TABLES, MINCOL), on a suite's generated
// data (or a captured suite's tensors). scripts/roofline.py's MAGICPIG_SAMPLED (the sampled share
// that the method's roofline counts) comes from here; the error tells which params are worth a GPU
// evaluation.
//
// The model is seeds/magicpig_lsh.cu at SHARED=1: keys centred by their mean over the cache,
// TABLES codes of KBITS sign bits from the seed's planes (plane_word of kPlaneSeed), one code per
// KV head from the summed query of its group, a token sampled where the codes agree in at least
// MINCOL tables (the SINK first and WIN last tokens always), each sampled logit corrected by
// -ln P[sampled | cos(summed query, centred key)]. The error is the evaluator's: per query head,
// ||o - o_ref|| / ||o_ref|| against exact attention (fp64 here), averaged over the call's heads.
// Sums run in a different order than on the GPU, so a token whose projection is within rounding
// of 0 may get the other bit: shares and errors are the method's, not the kernel's to the bit.
//
//   bench_magicpig_sim [--suite llama3-8b] [--workload B1-N131072 ...] [--calls 4]
//                      [--params 6,64,3 ...] [--sink 16] [--win 64] [--threads N]
// Prints one row per workload and params: sampled share, mean error, worst call's mean error.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "evaluator/internal_kernels/gen_math.h"
#include "evaluator/suite_stats.h"
#include "evaluator/workloads.h"

namespace {

using kevo::WorkloadSpec;

// seeds/magicpig_lsh.cu's plane seed and kevo/rng.cuh's plane_word (hash3 of the splitmix64
// finaliser, which the generator's mix64 is), on the host.
constexpr uint64_t kPlaneSeed = 0x6b65766f50494721ull;
uint32_t plane_word(int p, int w) {
  using kevo_gen::mix64;
  return (uint32_t)mix64(kPlaneSeed ^
                         mix64((uint64_t)p ^ mix64((uint64_t)w + 0x632be59bd9b4e019ull)));
}

struct Params {
  int kbits, tables, mincol;
};

// seeds/magicpig_lsh.cu's sample_prob in double.
double sample_prob(const Params& P, double cos_theta) {
  const double theta = std::acos(std::clamp(cos_theta, -1.0, 1.0));
  const double p = std::pow(std::max(1.0 - theta / M_PI, 0.0), P.kbits), q = 1.0 - p;
  const int L = P.tables;
  double below = 0, term = std::pow(q, L);  // C(L,j) p^j q^(L-j), j = 0, 1, ..
  for (int j = 0; j < P.mincol; ++j) {
    below += term;
    term = q > 0 ? term * (L - j) / (j + 1) * p / q : 0;
  }
  return std::max(1.0 - below, 1e-6);
}

// Sign codes of `rows` vectors (row-major, D floats) on the planes of one KBITS: code[r][l] for
// tables l < tables.
std::vector<uint8_t> codes_of(const float* x, int rows, int D, int kbits, int tables) {
  const int nplanes = kbits * tables;
  std::vector<float> sign(size_t(nplanes) * D);
  for (int p = 0; p < nplanes; ++p)
    for (int d = 0; d < D; ++d)
      sign[size_t(p) * D + d] = (plane_word(p, d / 32) >> (d % 32)) & 1u ? -1.f : 1.f;
  std::vector<uint8_t> out(size_t(rows) * tables);
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + size_t(r) * D;
    for (int l = 0; l < tables; ++l) {
      uint32_t code = 0;
      for (int b = 0; b < kbits; ++b) {
        const float* s = sign.data() + size_t(l * kbits + b) * D;
        float acc = 0;
        for (int d = 0; d < D; ++d) acc += s[d] * xr[d];
        if (acc >= 0.f) code |= 1u << b;
      }
      out[size_t(r) * tables + l] = (uint8_t)code;
    }
  }
  return out;
}

struct Tally {  // per (workload, params): sums over (KV head, call)
  double sampled = 0, slices = 0;
  std::vector<double> call_err_sum;  // per call: sum of the heads' errors
  std::vector<int> call_heads;
};

// One (batch row, KV head) of a workload: every call's group of query heads, every params.
void run_slice(const WorkloadSpec& w, int b, int h, const std::vector<std::vector<float>>& queries,
               const std::vector<Params>& params, int sink, int win, std::vector<Tally>& tally,
               std::mutex& mu) {
  const kevo::Shape& s = w.shape;
  const int N = s.N, D = s.D, G = s.Hq / s.Hkv;
  std::vector<float> k, v, kc(size_t(N) * D), knorm(N);
  kevo::kv_slice(w, b, h, k, v);
  std::vector<double> mean(D, 0.0);
  for (int n = 0; n < N; ++n)
    for (int d = 0; d < D; ++d) mean[d] += k[size_t(n) * D + d];
  for (int d = 0; d < D; ++d) mean[d] /= N;
  for (int n = 0; n < N; ++n) {
    double nn = 0;
    for (int d = 0; d < D; ++d) {
      const float c = k[size_t(n) * D + d] - (float)mean[d];
      kc[size_t(n) * D + d] = c;
      nn += double(c) * c;
    }
    knorm[n] = (float)std::sqrt(nn);
  }
  // Key codes once per KBITS, for the most tables any params of that KBITS use.
  std::map<int, int> max_tables;
  for (const Params& P : params) max_tables[P.kbits] = std::max(max_tables[P.kbits], P.tables);
  std::map<int, std::vector<uint8_t>> key_codes;
  for (auto [kb, tb] : max_tables) key_codes[kb] = codes_of(kc.data(), N, D, kb, tb);

  const double scale = 1.0 / std::sqrt(double(D));
  std::vector<double> logit(size_t(G) * N);
  for (size_t call = 0; call < queries.size(); ++call) {
    const float* q = queries[call].data() + (size_t(b) * s.Hq + size_t(h) * G) * D;
    std::vector<float> qbar(D, 0.f);
    for (int g = 0; g < G; ++g)
      for (int d = 0; d < D; ++d) qbar[d] += q[size_t(g) * D + d];
    double qbar_norm = 0, qbar_mu = 0;
    for (int d = 0; d < D; ++d)
      qbar_norm += double(qbar[d]) * qbar[d], qbar_mu += qbar[d] * mean[d];
    qbar_norm = std::sqrt(qbar_norm);
    for (int g = 0; g < G; ++g)
      for (int n = 0; n < N; ++n) {
        double acc = 0;
        for (int d = 0; d < D; ++d) acc += double(q[size_t(g) * D + d]) * k[size_t(n) * D + d];
        logit[size_t(g) * N + n] = acc * scale;
      }
    // Exact outputs, the reference.
    std::vector<double> ref(size_t(G) * D, 0.0);
    for (int g = 0; g < G; ++g) {
      const double* lg = logit.data() + size_t(g) * N;
      const double m = *std::max_element(lg, lg + N);
      double den = 0;
      for (int n = 0; n < N; ++n) {
        const double e = std::exp(lg[n] - m);
        den += e;
        for (int d = 0; d < D; ++d) ref[size_t(g) * D + d] += e * v[size_t(n) * D + d];
      }
      for (int d = 0; d < D; ++d) ref[size_t(g) * D + d] /= den;
    }
    for (size_t pi = 0; pi < params.size(); ++pi) {
      const Params& P = params[pi];
      const int tmax = max_tables[P.kbits];
      const std::vector<uint8_t> qcode = codes_of(qbar.data(), 1, D, P.kbits, P.tables);
      const std::vector<uint8_t>& kcodes = key_codes[P.kbits];
      // Sampled tokens and their log-probability correction (0 for forced ones).
      std::vector<int> take;
      std::vector<double> corr;
      int sampled = 0;
      for (int n = 0; n < N; ++n) {
        if (n < sink || n >= N - win) {
          take.push_back(n), corr.push_back(0.0);
          continue;
        }
        int eq = 0;
        for (int l = 0; l < P.tables; ++l) eq += kcodes[size_t(n) * tmax + l] == qcode[l];
        if (eq < P.mincol) continue;
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += double(qbar[d]) * k[size_t(n) * D + d];
        const double cosv = (dot - qbar_mu) / std::max(qbar_norm * knorm[n], 1e-20);
        take.push_back(n), corr.push_back(std::log(sample_prob(P, cosv)));
        ++sampled;
      }
      double err_sum = 0;
      for (int g = 0; g < G; ++g) {
        const double* lg = logit.data() + size_t(g) * N;
        double m = -INFINITY;
        for (size_t i = 0; i < take.size(); ++i) m = std::max(m, lg[take[i]] - corr[i]);
        std::vector<double> o(D, 0.0);
        double den = 0;
        for (size_t i = 0; i < take.size(); ++i) {
          const double e = std::exp(lg[take[i]] - corr[i] - m);
          den += e;
          for (int d = 0; d < D; ++d) o[d] += e * v[size_t(take[i]) * D + d];
        }
        double e2 = 0, r2 = 0;
        for (int d = 0; d < D; ++d) {
          const double x = o[d] / den, r = ref[size_t(g) * D + d];
          e2 += (x - r) * (x - r), r2 += r * r;
        }
        err_sum += std::sqrt(e2 / std::max(r2, 1e-30));
      }
      std::lock_guard<std::mutex> lock(mu);
      Tally& t = tally[pi];
      t.sampled += double(sampled) / N;  // as roofline.py counts it: share * N + SINK + WIN
      t.slices += 1;
      t.call_err_sum[call] += err_sum;
      t.call_heads[call] += G;
    }
  }
}

int usage(const std::string& why) {
  std::fprintf(stderr, "bench_magicpig_sim: %s\n", why.c_str());
  std::fprintf(stderr,
               "usage: bench_magicpig_sim [--suite NAME] [--workload NAME ...] [--calls N] "
               "[--params K,L,M ...] [--sink N] [--win N] [--threads N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string suite_name = "llama3-8b";
  std::vector<std::string> workloads;
  std::vector<Params> params;
  int calls = 4, sink = 16, win = 64;
  int threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* val = nullptr;
    if (a == "--suite" && (val = next())) {
      suite_name = val;
    } else if (a == "--workload" && (val = next())) {
      workloads.push_back(val);
    } else if (a == "--calls" && (val = next())) {
      calls = std::atoi(val);
    } else if (a == "--sink" && (val = next())) {
      sink = std::atoi(val);
    } else if (a == "--win" && (val = next())) {
      win = std::atoi(val);
    } else if (a == "--threads" && (val = next())) {
      threads = std::max(1, std::atoi(val));
    } else if (a == "--params" && (val = next())) {
      Params P{};
      if (std::sscanf(val, "%d,%d,%d", &P.kbits, &P.tables, &P.mincol) != 3 || P.kbits < 1 ||
          P.kbits > 8 || P.tables < 1 || P.tables > 256 || P.mincol < 1) {
        std::fprintf(stderr, "bench_magicpig_sim: --params wants KBITS,TABLES,MINCOL, got '%s'\n",
                     val);
        return 2;
      }
      params.push_back(P);
    } else {
      return usage("unknown option '" + a + "' or its value missing");
    }
  }
  if (calls < 1) return usage("--calls must be at least 1");
  if (params.empty()) params = {{6, 64, 3}};
  if (workloads.empty()) workloads = {"B1-N32768", "B1-N131072"};
  auto suite = kevo::load_suite(suite_name);
  if (!suite.ok()) {
    std::fprintf(stderr, "bench_magicpig_sim: %s\n", suite.status().to_string().c_str());
    return 2;
  }
  std::printf("| workload | KBITS | TABLES | MINCOL | sampled share | mean error | worst call |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const std::string& name : workloads) {
    const WorkloadSpec* w = nullptr;
    for (const WorkloadSpec& x : suite->workloads)
      if (x.name == name) w = &x;
    if (!w) {
      std::fprintf(stderr, "bench_magicpig_sim: no workload '%s' in suite %s\n", name.c_str(),
                   suite_name.c_str());
      return 2;
    }
    const kevo::Shape& s = w->shape;
    int ncalls = 0;  // a captured suite may hold fewer queries than asked for
    const std::vector<std::vector<float>> queries = kevo::workload_queries(*w, calls, ncalls);
    std::vector<Tally> tally(params.size());
    for (Tally& t : tally) t.call_err_sum.assign(ncalls, 0.0), t.call_heads.assign(ncalls, 0);
    std::mutex mu;
    std::vector<std::pair<int, int>> slices;
    for (int b = 0; b < s.B; ++b)
      for (int h = 0; h < s.Hkv; ++h) slices.push_back({b, h});
    size_t next_slice = 0;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&] {
        for (;;) {
          std::pair<int, int> bh;
          {
            std::lock_guard<std::mutex> lock(mu);
            if (next_slice == slices.size()) return;
            bh = slices[next_slice++];
          }
          run_slice(*w, bh.first, bh.second, queries, params, sink, win, tally, mu);
        }
      });
    for (std::thread& t : pool) t.join();
    for (size_t pi = 0; pi < params.size(); ++pi) {
      const Tally& t = tally[pi];
      double mean = 0, worst = 0;
      for (int j = 0; j < ncalls; ++j) {
        const double call_mean = t.call_err_sum[j] / std::max(1, t.call_heads[j]);
        mean += call_mean / ncalls;
        worst = std::max(worst, call_mean);
      }
      std::printf("| %s | %d | %d | %d | %.3f | %.4f | %.4f |\n", name.c_str(), params[pi].kbits,
                  params[pi].tables, params[pi].mincol, t.sampled / std::max(1.0, t.slices), mean,
                  worst);
    }
    std::fflush(stdout);
  }
  return 0;
}
