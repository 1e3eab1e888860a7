// Workload suites and the data generator, on the CPU: YAML parsing and its errors, the shipped
// suites, the generator's statistics (what makes the data look like LLM attention), captured
// tensors from .npy and .safetensors files the test writes itself.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "evaluator/generator_host.h"
#include "evaluator/tensor_files.h"
#include "evaluator/workloads.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

using testing::TempDir;
using testing::write_file;

TEST(Suites, ShippedSuitesParse) {
  for (std::string name : {"quick", "llama3-8b", "holdout"}) {
    auto s = load_suite(testing::source_dir() + "/configs/suites/" + name + ".yaml");
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    EXPECT_EQ(s->name, name);
    EXPECT_FALSE(s->workloads.empty());
  }
  auto s = load_suite(testing::source_dir() + "/configs/suites/llama3-8b.yaml");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->workloads.size(), 4u);
  const int want[4][2] = {{1, 8192}, {1, 32768}, {1, 131072}, {8, 32768}};
  for (int i = 0; i < 4; ++i) {
    const Shape& sh = s->workloads[i].shape;
    EXPECT_EQ(sh.B, want[i][0]);
    EXPECT_EQ(sh.N, want[i][1]);
    EXPECT_EQ(sh.Hq, 32);
    EXPECT_EQ(sh.Hkv, 8);
    EXPECT_EQ(sh.D, 128);
  }
  EXPECT_EQ(s->workloads[2].name, "B1-N131072");
  // Every workload has its own seed.
  EXPECT_NE(s->workloads[0].seed, s->workloads[1].seed);
}

TEST(Suites, HoldoutDiffersFromDefault) {
  auto h = load_suite(testing::source_dir() + "/configs/suites/holdout.yaml");
  auto d = load_suite(testing::source_dir() + "/configs/suites/llama3-8b.yaml");
  ASSERT_TRUE(h.ok() && d.ok());
  for (const auto& hw : h->workloads) {
    for (const auto& dw : d->workloads) EXPECT_NE(hw.seed, dw.seed);
    EXPECT_NE(hw.shape.Hq, 32);  // other GQA ratios
  }
  EXPECT_NE(h->workloads[0].gen.temp_max, d->workloads[0].gen.temp_max);
}

TEST(Suites, OverridesAndErrorsNameTheLine) {
  auto s = parse_suite("Hq: 16\nHkv: 4\nworkloads:\n  - {B: 2, N: 100, Hq: 28, Hkv: 4}\n"
                       "generator:\n  sinks: 2\n",
                       "/tmp/x.yaml");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->name, "x");
  EXPECT_EQ(s->workloads[0].shape.Hq, 28);
  EXPECT_EQ(s->workloads[0].gen.sinks, 2);
  EXPECT_EQ(s->workloads[0].name, "B2-N100-H28x4");

  auto bad = parse_suite("workloads:\n  - {B: 1, N: 100}\ngenerator:\n  temp_maxx: 3\n", "s.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("temp_maxx"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("s.yaml:4"), std::string::npos) << bad.status().message();

  auto shape = parse_suite("Hq: 12\nHkv: 8\nworkloads:\n  - {B: 1, N: 64}\n", "s.yaml");
  ASSERT_FALSE(shape.ok());
  EXPECT_NE(shape.status().message().find("multiple of Hkv"), std::string::npos);
  EXPECT_FALSE(parse_suite("name: empty\n", "e.yaml").ok());
  EXPECT_FALSE(load_suite("no-such-suite").ok());
}

// ---- generator ---------------------------------------------------------------------------

struct Generated {
  WorkloadSpec w;
  kevo_gen::GenParams p;
  std::vector<uint16_t> k, v, q;
};

Generated generate(int N, uint64_t seed) {
  Generated g;
  g.w.shape = {1, 32, 8, N, 128};
  g.w.seed = seed;
  g.p = make_gen_params(g.w);
  generate_kv_host(g.p, g.k, g.v);
  g.q = generate_q_host(g.p, 99);
  return g;
}

double top_mass(std::vector<double> w, double share) {
  std::sort(w.rbegin(), w.rend());
  size_t n = std::max<size_t>(1, size_t(share * w.size()));
  return std::accumulate(w.begin(), w.begin() + n, 0.0);
}

TEST(Generator, DeterministicBySeed) {
  WorkloadSpec w;
  w.shape = {1, 8, 2, 64, 128};
  w.seed = 5;
  auto p = make_gen_params(w);
  std::vector<uint16_t> k1, v1, k2, v2;
  generate_kv_host(p, k1, v1);
  generate_kv_host(p, k2, v2);
  EXPECT_EQ(k1, k2);
  EXPECT_EQ(v1, v2);
  p.seed = 6;
  generate_kv_host(p, k2, v2);
  EXPECT_NE(k1, k2);
  EXPECT_EQ(generate_q_host(p, 1), generate_q_host(p, 1));
  EXPECT_NE(generate_q_host(p, 1), generate_q_host(p, 2));  // fresh queries per call
}

TEST(Generator, HeadsSpanPeakedToFlat) {
  Generated g = generate(4096, 42);
  int peaked = 0, flat = 0;
  for (int hq = 0; hq < 32; ++hq) {
    auto w = attention_weights_fp64(g.q, g.k, g.w.shape, 0, hq);
    double top = top_mass(w, 0.01);  // mass on the top 1% of tokens
    if (top > 0.9) ++peaked;
    if (top < 0.5) ++flat;
  }
  // Retrieval-like heads and near-uniform heads both present (uniform data would make every
  // sparse method look equally bad).
  EXPECT_GE(peaked, 4);
  EXPECT_GE(flat, 4);
}

TEST(Generator, SinksRecencyAndNeedlesCarryMass) {
  Generated g = generate(4096, 43);
  double sink = 0, recent = 0, needle = 0, needle_share = 0;
  int needles = 0;
  for (int n = 0; n < 4096; ++n) needles += kevo_gen::is_needle(g.p, 0, 0, n);
  for (int hq = 0; hq < 32; ++hq) {
    auto w = attention_weights_fp64(g.q, g.k, g.w.shape, 0, hq);
    for (int n = 0; n < g.p.sinks; ++n) sink += w[n] / 32;
    for (int n = 4096 - 16; n < 4096; ++n) recent += w[n] / 32;
    for (int n = 0; n < 4096; ++n) {
      if (kevo_gen::is_needle(g.p, 0, hq / 4, n)) needle += w[n] / 32;
    }
  }
  needle_share = double(needles) / 4096;
  // 4 sinks of 4096 tokens get far more than their 0.1% share, so do the newest 16 tokens,
  // and the needles (about 0.2% of tokens) hold a large part of the mass.
  EXPECT_GT(sink, 0.02);
  EXPECT_GT(recent, 0.01);
  EXPECT_GT(needle_share, 0.0005);
  EXPECT_LT(needle_share, 0.005);
  EXPECT_GT(needle, 0.3);
}

TEST(Generator, KeysHaveMeanOffsetAndOutlierChannels) {
  Generated g = generate(2048, 44);
  // Per channel of KV head 0, before RoPE mixes them: use channel magnitudes over tokens.
  const int D = 128, N = 2048;
  std::vector<double> mean_abs(D, 0);
  for (int n = 64; n < N - 64; ++n) {
    for (int d = 0; d < D; ++d) mean_abs[d] += std::fabs(bf16_bits_to_float(g.k[size_t(n) * D + d]));
  }
  std::vector<double> sorted = mean_abs;
  std::sort(sorted.begin(), sorted.end());
  // A few channels (outliers, paired by RoPE) are several times the median channel.
  EXPECT_GT(sorted[D - 1] / sorted[D / 2], 3.0);
  // The mean key is far from zero: |mean| comparable to the per-token spread.
  std::vector<double> mean(D, 0);
  for (int n = 64; n < N - 64; ++n) {
    for (int d = 0; d < D; ++d) mean[d] += bf16_bits_to_float(g.k[size_t(n) * D + d]) / (N - 128);
  }
  double mnorm = 0;
  for (double x : mean) mnorm += x * x;
  EXPECT_GT(std::sqrt(mnorm), 0.1 * std::sqrt(double(D)));
}

TEST(Generator, CallsWithFreshQueriesGiveDifferentOutputs) {
  Generated g = generate(2048, 45);
  auto q2 = generate_q_host(g.p, 100);
  auto o1 = dense_attention_fp64(g.q, g.k, g.v, g.w.shape);
  auto o2 = dense_attention_fp64(q2, g.k, g.v, g.w.shape);
  double e = 0, n = 0;
  for (size_t i = 0; i < o1.size(); ++i) {
    e += (o1[i] - o2[i]) * (o1[i] - o2[i]);
    n += o1[i] * o1[i];
  }
  // A kernel returning a cached answer is far off the fresh query's reference.
  EXPECT_GT(std::sqrt(e / n), 0.1);
}

// ---- captured tensors ----------------------------------------------------------------------

std::string npy(const std::string& descr, const std::vector<int64_t>& shape, const void* data,
                size_t bytes) {
  std::string dims;
  for (int64_t d : shape) dims += std::to_string(d) + ", ";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  out += char(header.size() & 0xFF);
  out += char(header.size() >> 8);
  return out + header + std::string(static_cast<const char*>(data), bytes);
}

TEST(TensorFiles, NpyFloat32AndBf16Bits) {
  std::vector<float> f = {1.0f, -2.5f, 3.140625f, 0.0f, 65504.0f, 1e-3f};
  auto a = parse_npy(npy("<f4", {2, 3}, f.data(), f.size() * 4), "t.npy");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  for (size_t i = 0; i < f.size(); ++i) {
    EXPECT_NEAR(bf16_bits_to_float(a->bf16[i]), f[i], std::fabs(f[i]) / 128 + 1e-6);
  }
  std::vector<uint16_t> bits = {0x3F80, 0xC020};
  auto b = parse_npy(npy("<V2", {2}, bits.data(), 4), "b.npy");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->bf16, bits);
  std::vector<uint16_t> half = {0x3C00, 0xC000, 0x0001};  // 1, -2, smallest subnormal
  auto h = parse_npy(npy("<f2", {3}, half.data(), 6), "h.npy");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(bf16_bits_to_float(h->bf16[0]), 1.0f);
  EXPECT_EQ(bf16_bits_to_float(h->bf16[1]), -2.0f);
  EXPECT_GT(bf16_bits_to_float(h->bf16[2]), 0.0f);
}

TEST(TensorFiles, NpyErrorsSayWhat) {
  std::vector<int32_t> x = {1, 2};
  auto a = parse_npy(npy("<i4", {2}, x.data(), 8), "x.npy");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("'<i4' is not supported"), std::string::npos);
  auto t = parse_npy(npy("<f4", {4}, x.data(), 8), "short.npy");  // 4 floats promised, 2 given
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("shape needs"), std::string::npos);
  EXPECT_FALSE(parse_npy("not numpy", "n.npy").ok());
}

std::string safetensors(const std::vector<std::pair<std::string, std::vector<float>>>& ts,
                        const std::vector<std::vector<int64_t>>& shapes) {
  nlohmann::json h;
  std::string data;
  for (size_t i = 0; i < ts.size(); ++i) {
    size_t begin = data.size();
    data.append(reinterpret_cast<const char*>(ts[i].second.data()), ts[i].second.size() * 4);
    h[ts[i].first] = {{"dtype", "F32"}, {"shape", shapes[i]}, {"data_offsets", {begin, data.size()}}};
  }
  h["__metadata__"] = {{"format", "pt"}};
  std::string hs = h.dump();
  std::string out(8, '\0');
  uint64_t n = hs.size();
  std::memcpy(out.data(), &n, 8);
  return out + hs + data;
}

TEST(TensorFiles, SuiteFromNpyAndSafetensors) {
  TempDir dir;
  const int B = 1, Hq = 4, Hkv = 2, N = 16, D = 8;
  std::vector<float> q(B * Hq * D, 0.5f), k(B * Hkv * N * D), v(B * Hkv * N * D);
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = float(i % 7) - 3;
    v[i] = float(i % 5);
  }
  write_file(dir.file("q.npy"), npy("<f4", {Hq, D}, q.data(), q.size() * 4));
  write_file(dir.file("k.npy"), npy("<f4", {Hkv, N, D}, k.data(), k.size() * 4));
  write_file(dir.file("v.npy"), npy("<f4", {Hkv, N, D}, v.data(), v.size() * 4));
  write_file(dir.file("t.safetensors"),
             safetensors({{"query", q}, {"key", k}, {"value", v}}, {{B, Hq, D}, {B, Hkv, N, D}, {B, Hkv, N, D}}));
  write_file(dir.file("suite.yaml"),
             "name: captured\ntensors:\n  - {name: layer0, q: q.npy, k: k.npy, v: v.npy}\n"
             "  - {name: st, file: t.safetensors, q: query, k: key, v: value}\n");
  auto s = load_suite(dir.file("suite.yaml"));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  ASSERT_EQ(s->workloads.size(), 2u);
  for (const auto& w : s->workloads) {
    ASSERT_TRUE(w.tensors);
    EXPECT_EQ(w.shape.B, B);
    EXPECT_EQ(w.shape.Hq, Hq);
    EXPECT_EQ(w.shape.Hkv, Hkv);
    EXPECT_EQ(w.shape.N, N);
    EXPECT_EQ(w.shape.D, D);
    EXPECT_EQ(bf16_bits_to_float(w.tensors->k[3]), 0.0f);
    EXPECT_EQ(bf16_bits_to_float(w.tensors->v[4]), 4.0f);
  }
  EXPECT_EQ(s->workloads[1].name, "st");

  write_file(dir.file("bad.yaml"), "tensors:\n  - {file: t.safetensors, q: nope}\n");
  auto bad = load_suite(dir.file("bad.yaml"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("no tensor 'nope'"), std::string::npos);
  EXPECT_NE(bad.status().message().find("query"), std::string::npos);  // lists what exists
}

}  // namespace
}  // namespace kevo
