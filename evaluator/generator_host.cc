#include "evaluator/generator_host.h"

#include <algorithm>
#include <cmath>

#include "common/embedded.h"

namespace kevo {

const std::vector<EmbeddedFile>& embedded_internal_kernels();

std::string_view internal_kernel_file(std::string_view path) {
  for (const auto& f : embedded_internal_kernels()) {
    if (f.path == path) return f.contents;
  }
  return {};
}

kevo_gen::GenParams make_gen_params(const WorkloadSpec& w) {
  const GeneratorParams& g = w.gen;
  kevo_gen::GenParams p{};
  p.seed = w.seed;
  p.B = w.shape.B;
  p.Hq = w.shape.Hq;
  p.Hkv = w.shape.Hkv;
  p.N = w.shape.N;
  p.D = w.shape.D;
  p.sinks = std::min(g.sinks, w.shape.N);
  p.outlier_channels = g.outlier_channels;
  p.key_mean = float(g.key_mean);
  p.outlier_scale = float(g.outlier_scale);
  p.rope_base = float(g.rope_base);
  p.qk_align = float(g.qk_align);
  p.temp_min = float(g.temp_min);
  p.temp_max = float(g.temp_max);
  p.heavy_fraction = float(g.heavy_fraction);
  p.heavy_mass_min = float(g.heavy_mass_min);
  p.heavy_mass_max = float(g.heavy_mass_max);
  p.sink_mass_min = float(g.sink_mass_min);
  p.sink_mass_max = float(g.sink_mass_max);
  p.recent_logit = float(g.recent_logit);
  p.recent_window = float(g.recent_window);
  p.value_mean = float(g.value_mean);
  p.value_outlier_frac = float(g.value_outlier_frac);
  p.query_noise = float(g.query_noise);
  return p;
}

void generate_kv_host(const kevo_gen::GenParams& p, std::vector<uint16_t>& k,
                      std::vector<uint16_t>& v) {
  const size_t total = size_t(p.B) * p.Hkv * p.N * p.D;
  k.assign(total, 0);
  v.assign(total, 0);
  const int half = p.D / 2;
  for (int b = 0; b < p.B; ++b) {
    for (int h = 0; h < p.Hkv; ++h) {
      for (int n = 0; n < p.N; ++n) {
        size_t base = ((size_t(b) * p.Hkv + h) * p.N + n) * p.D;
        for (int i = 0; i < half; ++i) {
          kevo_gen::u16 kk[2], vv[2];
          kevo_gen::kv_pair(p, b, h, n, i, kk, vv);
          k[base + i] = kk[0];
          k[base + i + half] = kk[1];
          v[base + i] = vv[0];
          v[base + i + half] = vv[1];
        }
      }
    }
  }
}

std::vector<uint16_t> generate_q_host(const kevo_gen::GenParams& p, uint64_t call_seed) {
  std::vector<uint16_t> q(size_t(p.B) * p.Hq * p.D);
  for (int b = 0; b < p.B; ++b) {
    for (int hq = 0; hq < p.Hq; ++hq) {
      kevo_gen::query_row(p, call_seed, b, hq, q.data() + (size_t(b) * p.Hq + hq) * p.D);
    }
  }
  return q;
}

std::vector<double> attention_weights_fp64(const std::vector<uint16_t>& q,
                                           const std::vector<uint16_t>& k, const Shape& s, int b,
                                           int hq) {
  const int G = s.Hq / s.Hkv, h = hq / G;
  const double scale = 1.0 / std::sqrt(double(s.D));
  const uint16_t* qr = q.data() + (size_t(b) * s.Hq + hq) * s.D;
  std::vector<double> qd(s.D);
  for (int d = 0; d < s.D; ++d) qd[d] = bf16_bits_to_float(qr[d]);
  std::vector<double> w(s.N);
  double mx = -INFINITY;
  for (int n = 0; n < s.N; ++n) {
    const uint16_t* kr = k.data() + ((size_t(b) * s.Hkv + h) * s.N + n) * s.D;
    double dot = 0;
    for (int d = 0; d < s.D; ++d) dot += qd[d] * bf16_bits_to_float(kr[d]);
    w[n] = dot * scale;
    mx = std::max(mx, w[n]);
  }
  double sum = 0;
  for (double& x : w) sum += (x = std::exp(x - mx));
  for (double& x : w) x /= sum;
  return w;
}

std::vector<double> dense_attention_fp64(const std::vector<uint16_t>& q,
                                         const std::vector<uint16_t>& k,
                                         const std::vector<uint16_t>& v, const Shape& s) {
  std::vector<double> o(size_t(s.B) * s.Hq * s.D, 0.0);
  const int G = s.Hq / s.Hkv;
  for (int b = 0; b < s.B; ++b) {
    for (int hq = 0; hq < s.Hq; ++hq) {
      std::vector<double> w = attention_weights_fp64(q, k, s, b, hq);
      double* out = o.data() + (size_t(b) * s.Hq + hq) * s.D;
      for (int n = 0; n < s.N; ++n) {
        const uint16_t* vr = v.data() + ((size_t(b) * s.Hkv + hq / G) * s.N + n) * s.D;
        for (int d = 0; d < s.D; ++d) out[d] += w[n] * bf16_bits_to_float(vr[d]);
      }
    }
  }
  return o;
}

}  // namespace kevo
