// How hard a suite is for sparse attention (`kevo suite-stats`): for every workload and KV-head
// group, statistics of the dense attention of its decode queries. CPU only, fp64 over the bf16
// data the evaluator would use; generated workloads are generated on the host slice by slice,
// captured ones are read as they are. Pure host code; the functions are thread-safe (each call
// runs its own worker threads).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "evaluator/workloads.h"

namespace kevo {

// Token budgets of the oracle top-k, as divisors of N: the 8x-64x sparsity that HashAttention,
// vAttention and MagicPIG report at.
inline constexpr int kStatsBudgetDivs[4] = {8, 16, 32, 64};
inline constexpr int kStatsBudgets = 4;

struct SuiteStatsOptions {
  // Generated workloads: this many fresh queries (the evaluator's fresh-query generator, call
  // seeds from stats_call_seed). Captured workloads: the first min(queries, T) captured queries,
  // unperturbed. 4 queries x G heads x B rows is enough for stable group means.
  int queries = 4;
  int sinks = 4;    // the first tokens counted as attention sinks (StreamingLLM keeps 4)
  int window = 64;  // the newest tokens counted as the recent window (methods keep 64-128)
  int threads = 0;  // worker threads; 0 = one per hardware thread
  // Called after each workload, from the calling thread (progress lines).
  std::function<void(size_t index, size_t count, const std::string& name)> on_workload;
};

// Means over the rows (query head x batch row x query) of one group or of a whole workload.
// A row's attention is p = softmax(q K^T / sqrt(D)) over all N tokens.
struct AttentionStats {
  int rows = 0;
  double entropy = 0;       // -sum p ln p, in nats
  double entropy_norm = 0;  // entropy / ln N: 1 = uniform, 0 = all mass on one token
  // The oracle top-k keeps the k = ceil(N / div) tokens of largest p (per query head).
  double topk_mass[kStatsBudgets] = {};     // softmax mass those tokens hold
  double topk_err[kStatsBudgets] = {};      // ||o_k - o|| / ||o||, o_k the softmax over them only
  double topk_err_max[kStatsBudgets] = {};  // the worst row's
  double sink_mass = 0;                     // mass on the first `sinks` tokens
  double recent_mass = 0;                   // mass on the last `window` tokens
};

struct WorkloadStats {
  std::string name;
  Shape shape;
  bool captured = false;
  int queries = 0;                     // queries per (batch row, query head)
  std::vector<AttentionStats> groups;  // [Hkv]: the G query heads of KV head h, all batch rows
  AttentionStats all;                  // every row of the workload
};

struct SuiteStats {
  std::string suite;
  std::string file;
  SuiteStatsOptions options;
  std::vector<WorkloadStats> workloads;
};

// The call seed of generated query j (0-based) of workload `w`.
uint64_t stats_call_seed(const WorkloadSpec& w, int j);

// The workload's queries as floats, [count][B * Hq * D]: `want` generated ones (call seeds
// stats_call_seed(w, 0 ..)), or up to `want` of a captured suite's; count says how many.
std::vector<std::vector<float>> workload_queries(const WorkloadSpec& w, int want, int& count);

// K and V of KV head h, batch row b, as floats [N, D] (generated, or the captured tensors).
void kv_slice(const WorkloadSpec& w, int b, int h, std::vector<float>& k, std::vector<float>& v);

// Statistics of one row: q [D], k and v [N, D] (row-major floats).
AttentionStats row_attention_stats(const float* q, const float* k, const float* v, int N, int D,
                                   int sinks, int window);

WorkloadStats compute_workload_stats(const WorkloadSpec& w, const SuiteStatsOptions& opt);
SuiteStats compute_suite_stats(const Suite& suite, const SuiteStatsOptions& opt);

}  // namespace kevo
