// `kevo suite-stats` and the files of a captured suite, on the CPU: the statistics against a
// reference written here from the definitions (full sort, the host generator's fp64 attention
// weights), rows whose answer is known by hand, and scripts/kevo_tensors.py's safetensors and
// suite YAML read back through kevo's own reader.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "evaluator/generator_host.h"
#include "evaluator/suite_stats.h"
#include "evaluator/tensor_files.h"
#include "evaluator/workloads.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

using testing::TempDir;
using testing::write_file;

// ---- reference -----------------------------------------------------------------------------

// The statistics of one row from its attention weights `w` [N] and values `v` [N][D].
AttentionStats reference_row(const std::vector<double>& w,
                             const std::vector<std::vector<double>>& v, int sinks, int window) {
  const int N = int(w.size()), D = int(v[0].size());
  AttentionStats s;
  s.rows = 1;
  for (double p : w) {
    if (p > 0) s.entropy -= p * std::log(p);
  }
  s.entropy_norm = s.entropy / std::log(double(N));
  std::vector<double> o(D, 0.0);
  for (int n = 0; n < N; ++n) {
    for (int d = 0; d < D; ++d) o[d] += w[n] * v[n][d];
  }
  std::vector<int> order(N);
  for (int n = 0; n < N; ++n) order[n] = n;
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return w[a] > w[b] || (w[a] == w[b] && a < b); });
  for (int i = 0; i < kStatsBudgets; ++i) {
    const int k = std::max(1, (N + kStatsBudgetDivs[i] - 1) / kStatsBudgetDivs[i]);
    double mass = 0;
    std::vector<double> ok(D, 0.0);
    for (int j = 0; j < k; ++j) {
      mass += w[order[j]];
      for (int d = 0; d < D; ++d) ok[d] += w[order[j]] * v[order[j]][d];
    }
    double num = 0, den = 0;
    for (int d = 0; d < D; ++d) {
      num += (ok[d] / mass - o[d]) * (ok[d] / mass - o[d]);
      den += o[d] * o[d];
    }
    s.topk_mass[i] = mass;
    s.topk_err[i] = s.topk_err_max[i] = std::sqrt(num / den);
  }
  for (int n = 0; n < N; ++n) {
    if (n < sinks) s.sink_mass += w[n];
    if (n >= N - window) s.recent_mass += w[n];
  }
  return s;
}

// Group means over (batch row, query head of the group, query) of a workload whose queries are
// `queries` (each [B, Hq, D] bf16 bits) and whose K/V are `k`, `v` [B, Hkv, N, D].
std::vector<AttentionStats> reference_groups(const Shape& s,
                                             const std::vector<std::vector<uint16_t>>& queries,
                                             const std::vector<uint16_t>& k,
                                             const std::vector<uint16_t>& v, int sinks,
                                             int window) {
  const int G = s.Hq / s.Hkv;
  std::vector<AttentionStats> g(s.Hkv);
  for (int b = 0; b < s.B; ++b) {
    for (int hq = 0; hq < s.Hq; ++hq) {
      const int h = hq / G;
      std::vector<std::vector<double>> vr(s.N, std::vector<double>(s.D));
      for (int n = 0; n < s.N; ++n) {
        for (int d = 0; d < s.D; ++d) {
          vr[n][d] = bf16_bits_to_float(v[((size_t(b) * s.Hkv + h) * s.N + n) * s.D + d]);
        }
      }
      for (const auto& q : queries) {
        AttentionStats r = reference_row(attention_weights_fp64(q, k, s, b, hq), vr, sinks, window);
        AttentionStats& a = g[h];
        a.rows += 1;
        a.entropy += r.entropy;
        a.entropy_norm += r.entropy_norm;
        for (int i = 0; i < kStatsBudgets; ++i) {
          a.topk_mass[i] += r.topk_mass[i];
          a.topk_err[i] += r.topk_err[i];
          a.topk_err_max[i] = std::max(a.topk_err_max[i], r.topk_err[i]);
        }
        a.sink_mass += r.sink_mass;
        a.recent_mass += r.recent_mass;
      }
    }
  }
  for (auto& a : g) {
    a.entropy /= a.rows;
    a.entropy_norm /= a.rows;
    for (int i = 0; i < kStatsBudgets; ++i) {
      a.topk_mass[i] /= a.rows;
      a.topk_err[i] /= a.rows;
    }
    a.sink_mass /= a.rows;
    a.recent_mass /= a.rows;
  }
  return g;
}

void expect_same(const AttentionStats& got, const AttentionStats& want, const std::string& what) {
  SCOPED_TRACE(what);
  const double tol = 1e-9;
  EXPECT_EQ(got.rows, want.rows);
  EXPECT_NEAR(got.entropy, want.entropy, tol);
  EXPECT_NEAR(got.entropy_norm, want.entropy_norm, tol);
  for (int i = 0; i < kStatsBudgets; ++i) {
    EXPECT_NEAR(got.topk_mass[i], want.topk_mass[i], tol) << "budget 1/" << kStatsBudgetDivs[i];
    EXPECT_NEAR(got.topk_err[i], want.topk_err[i], tol) << "budget 1/" << kStatsBudgetDivs[i];
    EXPECT_NEAR(got.topk_err_max[i], want.topk_err_max[i], tol)
        << "budget 1/" << kStatsBudgetDivs[i];
  }
  EXPECT_NEAR(got.sink_mass, want.sink_mass, tol);
  EXPECT_NEAR(got.recent_mass, want.recent_mass, tol);
}

// ---- rows with known answers -------------------------------------------------------------

TEST(SuiteStats, UniformRowByHand) {
  const int N = 64, D = 8;
  std::vector<float> q(D, 1.0f), k(N * D, 0.0f), v(N * D, 1.0f);
  for (int n = 0; n < N; ++n) v[n * D] = float(n);  // channel 0 counts the tokens
  AttentionStats s = row_attention_stats(q.data(), k.data(), v.data(), N, D, 4, 16);
  EXPECT_NEAR(s.entropy, std::log(64.0), 1e-12);
  EXPECT_NEAR(s.entropy_norm, 1.0, 1e-12);
  EXPECT_NEAR(s.sink_mass, 4.0 / 64, 1e-12);
  EXPECT_NEAR(s.recent_mass, 16.0 / 64, 1e-12);
  // Equal weights: the top-k is the first k tokens, so o_k = (mean of 0..k-1, 1, ..., 1).
  const double norm_o = std::sqrt(31.5 * 31.5 + 7);
  for (int i = 0; i < kStatsBudgets; ++i) {
    const int kk = N / kStatsBudgetDivs[i];
    EXPECT_NEAR(s.topk_mass[i], double(kk) / N, 1e-12);
    EXPECT_NEAR(s.topk_err[i], (31.5 - (kk - 1) / 2.0) / norm_o, 1e-12);
  }
}

TEST(SuiteStats, PeakedRowByHand) {
  const int N = 100, D = 8;  // budgets ceil(100/8)=13, 7, 4, 2 tokens
  std::vector<float> q(D, 0.0f), k(N * D, 0.0f), v(N * D, 0.0f);
  q[0] = 40;
  k[37 * D] = 40;        // logit 40*40/sqrt(8) = 566: all the mass
  v[37 * D + 1] = 2.0f;  // and its value is the output
  for (int n = 0; n < N; ++n) v[n * D + 2] = 1.0f;
  AttentionStats s = row_attention_stats(q.data(), k.data(), v.data(), N, D, 4, 16);
  EXPECT_NEAR(s.entropy, 0.0, 1e-9);
  EXPECT_NEAR(s.sink_mass, 0.0, 1e-12);
  EXPECT_NEAR(s.recent_mass, 0.0, 1e-12);  // token 37 is before the last 16
  for (int i = 0; i < kStatsBudgets; ++i) {
    EXPECT_NEAR(s.topk_mass[i], 1.0, 1e-12);
    EXPECT_NEAR(s.topk_err[i], 0.0, 1e-12);
  }
}

// ---- a generated suite against the reference ---------------------------------------------

TEST(SuiteStats, GeneratedSuiteMatchesReference) {
  // N = 1000: budgets ceil(N/div) = 125, 63, 32, 16 (not multiples of the divisors).
  auto suite = parse_suite(
      "name: small\nHq: 8\nHkv: 2\nD: 64\nseed: 11\n"
      "workloads:\n  - {B: 2, N: 1000}\n  - {B: 1, N: 300, Hq: 6, Hkv: 3}\n",
      "/tmp/small.yaml");
  ASSERT_TRUE(suite.ok()) << suite.status().to_string();
  SuiteStatsOptions opt;
  opt.queries = 3;
  opt.sinks = 4;
  opt.window = 32;
  opt.threads = 2;
  std::vector<std::string> seen;
  opt.on_workload = [&](size_t i, size_t n, const std::string& name) {
    EXPECT_EQ(n, 2u);
    EXPECT_EQ(i, seen.size());
    seen.push_back(name);
  };
  SuiteStats st = compute_suite_stats(*suite, opt);
  ASSERT_EQ(st.workloads.size(), 2u);
  EXPECT_EQ(seen, (std::vector<std::string>{"B2-N1000", "B1-N300-H6x3"}));
  for (size_t wi = 0; wi < 2; ++wi) {
    const WorkloadSpec& w = suite->workloads[wi];
    const WorkloadStats& got = st.workloads[wi];
    EXPECT_FALSE(got.captured);
    EXPECT_EQ(got.queries, 3);
    auto p = make_gen_params(w);
    std::vector<uint16_t> k, v;
    generate_kv_host(p, k, v);
    std::vector<std::vector<uint16_t>> qs;
    for (int j = 0; j < 3; ++j) qs.push_back(generate_q_host(p, stats_call_seed(w, j)));
    auto want = reference_groups(w.shape, qs, k, v, 4, 32);
    ASSERT_EQ(got.groups.size(), size_t(w.shape.Hkv));
    AttentionStats all;
    for (int h = 0; h < w.shape.Hkv; ++h) {
      expect_same(got.groups[h], want[h], w.name + " group " + std::to_string(h));
      all.rows += want[h].rows;
      all.entropy_norm += want[h].entropy_norm / w.shape.Hkv;  // equal rows per group
    }
    EXPECT_EQ(got.all.rows, all.rows);
    EXPECT_NEAR(got.all.entropy_norm, all.entropy_norm, 1e-9);
  }
  // The generator's heads span peaked to flat: the groups must not all look alike.
  const auto& g = st.workloads[0].groups;
  EXPECT_GT(std::fabs(g[0].entropy_norm - g[1].entropy_norm), 0.02);
  // Same figures whatever the thread count.
  opt.threads = 1;
  opt.on_workload = nullptr;
  SuiteStats one = compute_suite_stats(*suite, opt);
  expect_same(one.workloads[0].all, st.workloads[0].all, "one thread");
}

// ---- scripts/kevo_tensors.py through kevo's reader ---------------------------------------

int shell(const std::string& cmd, std::string* out = nullptr) {
  TempDir tmp;
  int rc = std::system((cmd + " >" + tmp.file("o") + " 2>&1").c_str());
  if (out) *out = testing::read_file(tmp.file("o"));
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The values the Python side writes, computed the same way on both sides: v's are not exact in
// bf16 (rounding is compared), k's are exact in fp16 and bf16.
double q_value(int i) {
  return (i - 20) * 0.1 + (i % 3) * 1e-3;
}
double k_value(int i) {
  return (i % 29 - 14) / 4.0;
}

const char* kWriter = R"PY(
import sys
sys.path.insert(0, sys.argv[1] + "/scripts")
import kevo_tensors as kt
out = sys.argv[2]
T, B, Hq, Hkv, N, D = 2, 1, 4, 2, 16, 8
nq, nk = T * B * Hq * D, B * Hkv * N * D
q = [(i - 20) * 0.1 + (i % 3) * 1e-3 for i in range(nq)]
k = [(i % 29 - 14) / 4.0 for i in range(nk)]
v = [(i - 20) * 0.1 + (i % 3) * 1e-3 for i in range(nk)]
kt.write_safetensors(out + "/layer07.safetensors", [
    ("q", "BF16", [T, B, Hq, D], kt.bf16_bytes(q)),
    ("k", "F16", [B, Hkv, N, D], kt.f16_bytes(k)),
    ("v", "F32", [B, Hkv, N, D], kt.f32_bytes(v))], {"layer": 7, "model": "test"})
kt.write_safetensors(out + "/other.safetensors", [
    ("value", "BF16", [Hkv, N, D], kt.bf16_bytes(v)),
    ("key", "BF16", [Hkv, N, D], kt.bf16_bytes(k)),
    ("query", "F32", [Hq, D], kt.f32_bytes(q[:Hq * D]))])
kt.write_suite_yaml(out + "/suite.yaml", "captured test", [
    {"name": "L07-N16", "file": "layer07.safetensors"},
    {"name": "other: names", "file": "other.safetensors", "q": "query", "k": "key", "v": "value"}],
    ["written by the test", "second line"])
hdr, start = kt.read_safetensors_header(out + "/layer07.safetensors")
assert start % 8 == 0 and hdr["__metadata__"]["layer"] == "7", (start, hdr)
try:
    kt.write_safetensors(out + "/bad.safetensors", [("q", "BF16", [3], b"\0\0")])
    sys.exit("a short tensor was accepted")
except ValueError as e:
    assert "needs 6" in str(e), e
)PY";

TEST(CapturedSuite, PythonWriterThroughKevoReader) {
  if (shell("command -v python3") != 0) GTEST_SKIP() << "no python3 (scripts/setup.sh installs it)";
  TempDir tmp;
  write_file(tmp.file("writer.py"), kWriter);
  std::string out;
  ASSERT_EQ(
      shell("python3 -B " + tmp.file("writer.py") + " " + testing::source_dir() + " " + tmp.path(),
            &out),
      0)
      << out;
  EXPECT_NE(testing::read_file(tmp.file("suite.yaml")).find("# written by the test"),
            std::string::npos);

  auto suite = load_suite(tmp.file("suite.yaml"));
  ASSERT_TRUE(suite.ok()) << suite.status().to_string();
  EXPECT_EQ(suite->name, "captured test");
  ASSERT_EQ(suite->workloads.size(), 2u);
  const WorkloadSpec& w = suite->workloads[0];
  EXPECT_EQ(w.name, "L07-N16");
  EXPECT_EQ(suite->workloads[1].name, "other: names");
  ASSERT_TRUE(w.tensors);
  EXPECT_EQ(w.tensors->queries, 2);
  EXPECT_EQ(w.shape.B, 1);
  EXPECT_EQ(w.shape.Hq, 4);
  EXPECT_EQ(w.shape.Hkv, 2);
  EXPECT_EQ(w.shape.N, 16);
  EXPECT_EQ(w.shape.D, 8);
  // Bit for bit: Python's bf16 rounding of q equals kevo's; fp16 k and fp32 v convert as kevo does.
  for (int i = 0; i < 2 * 4 * 8; ++i) {
    ASSERT_EQ(w.tensors->q[i], float_to_bf16_bits(float(q_value(i)))) << "q[" << i << "]";
  }
  for (int i = 0; i < 2 * 16 * 8; ++i) {
    ASSERT_EQ(w.tensors->k[i], float_to_bf16_bits(float(k_value(i)))) << "k[" << i << "]";
    ASSERT_EQ(w.tensors->v[i], float_to_bf16_bits(float(q_value(i)))) << "v[" << i << "]";
  }
  const WorkloadSpec& o = suite->workloads[1];
  EXPECT_EQ(o.tensors->k, w.tensors->k);
  EXPECT_EQ(o.tensors->v, w.tensors->v);
  EXPECT_EQ(o.tensors->queries, 1);
  EXPECT_TRUE(std::equal(o.tensors->q.begin(), o.tensors->q.end(), w.tensors->q.begin()));

  // kevo reads only the tensor asked for, and says when the file is cut short.
  std::string whole = testing::read_file(tmp.file("layer07.safetensors"));
  write_file(tmp.file("layer07.safetensors"), whole.substr(0, whole.size() - 100));
  auto cut = load_suite(tmp.file("suite.yaml"));
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.status().message().find("tensor 'v' has bad data_offsets"), std::string::npos)
      << cut.status().message();

  // suite-stats on the captured workload: its T = 2 captured queries, unperturbed.
  SuiteStatsOptions opt;
  opt.queries = 8;
  opt.threads = 2;
  WorkloadStats got = compute_workload_stats(w, opt);
  EXPECT_TRUE(got.captured);
  EXPECT_EQ(got.queries, 2);
  const size_t per = size_t(w.shape.B) * w.shape.Hq * w.shape.D;
  std::vector<std::vector<uint16_t>> qs = {
      {w.tensors->q.begin(), w.tensors->q.begin() + per},
      {w.tensors->q.begin() + per, w.tensors->q.begin() + 2 * per}};
  auto want = reference_groups(w.shape, qs, w.tensors->k, w.tensors->v, opt.sinks, opt.window);
  for (int h = 0; h < 2; ++h)
    expect_same(got.groups[h], want[h], "captured group " + std::to_string(h));
}

// ---- the command -------------------------------------------------------------------------

TEST(SuiteStatsCli, JsonTextAndErrors) {
  TempDir tmp;
  write_file(tmp.file("s.yaml"),
             "name: tiny\nHq: 8\nHkv: 2\nD: 64\nseed: 5\n"
             "workloads:\n  - {B: 1, N: 512}\n  - {B: 1, N: 256}\n");
  auto r =
      testing::run_kevo("suite-stats " + tmp.file("s.yaml") + " --json --threads 2 --queries 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["suite"], "tiny");
  EXPECT_EQ(j["budgets"], nlohmann::json({"1/8", "1/16", "1/32", "1/64"}));
  ASSERT_EQ(j["workloads"].size(), 2u);
  // The JSON carries exactly what the library computes.
  auto suite = load_suite(tmp.file("s.yaml"));
  ASSERT_TRUE(suite.ok());
  SuiteStatsOptions opt;
  opt.queries = 2;
  opt.threads = 1;
  WorkloadStats want = compute_workload_stats(suite->workloads[0], opt);
  const auto& jw = j["workloads"][0];
  EXPECT_EQ(jw["name"], "B1-N512");
  EXPECT_EQ(jw["source"], "generated");
  EXPECT_EQ(jw["N"], 512);
  ASSERT_EQ(jw["groups"].size(), 2u);
  EXPECT_EQ(jw["groups"][1]["kv_head"], 1);
  EXPECT_EQ(jw["groups"][1]["rows"], 8);  // 4 heads x 2 queries
  EXPECT_DOUBLE_EQ(jw["groups"][1]["entropy_norm"].get<double>(), want.groups[1].entropy_norm);
  EXPECT_DOUBLE_EQ(jw["all"]["topk_mass"]["1/16"].get<double>(), want.all.topk_mass[1]);
  EXPECT_DOUBLE_EQ(jw["all"]["topk_rel_err"]["1/64"].get<double>(), want.all.topk_err[3]);
  EXPECT_DOUBLE_EQ(jw["all"]["topk_rel_err_max"]["1/8"].get<double>(), want.all.topk_err_max[0]);
  EXPECT_DOUBLE_EQ(jw["all"]["sink_mass"].get<double>(), want.all.sink_mass);

  auto text = testing::run_kevo("suite-stats " + tmp.file("s.yaml") +
                                " --threads 2 --summary --workload B1-N256");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("B1-N256"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("B1-N512"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  all "), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("     0 "), std::string::npos) << "--summary prints no group rows\n"
                                                         << text.out;

  auto bad = testing::run_kevo("suite-stats " + tmp.file("s.yaml") + " --workload nope");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("B1-N512, B1-N256"), std::string::npos) << bad.err;
  auto missing = testing::run_kevo("suite-stats " + tmp.file("none.yaml"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("none.yaml"), std::string::npos) << missing.err;
  EXPECT_EQ(testing::run_kevo("suite-stats " + tmp.file("s.yaml") + " --queries 0").exit_code, 2);
}

}  // namespace
}  // namespace kevo
