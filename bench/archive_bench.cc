// Archive benchmark: fills a run database with realistic programs (sources of a real kernel's
// size, full result JSON with workloads and kernels, failures with compile logs, LLM calls with
// prompt-sized text), then times `kevo status` and `kevo top` as a user runs them and reports the
// file size; then times every page and JSON endpoint of `kevo serve` (over HTTP on loopback, the
// server in this process). Usage: bench_archive [--programs N] [--dir DIR] [--llm-share F]
// [--keep] [--reuse] (--reuse: time an archive a previous --keep run left in DIR instead of
// filling a new one)
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "archive/archive.h"
#include "archive/rng.h"
#include "orchestrator/web/web.h"

namespace {

using kevo::Archive;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// About 6 KB, the size of the seeds in seeds/: a header, directives and three kernels.
std::string make_source(kevo::Rng& rng, int64_t n) {
  std::string s = "#include \"kevo/sparse_decode.cuh\"\n"
                  "// kevo:param  BITS = 32 in {16, 32, 64}\n"
                  "// kevo:param  TOPK_DIV = 32 in {8, 16, 32, 64}\n"
                  "// kevo:index      B*Hkv*N*(BITS/8)\n"
                  "// kevo:workspace  B*Hq*N*4\n"
                  "// kevo:build   hash_keys  grid(cdiv(N,128), Hkv, B) block(128)\n"
                  "// kevo:decode  score      grid(cdiv(N,256), Hq, B) block(256)\n"
                  "// kevo:decode  attend     grid(Hq, B) block(256) smem(48*1024)\n";
  for (int k = 0; k < 3; ++k) {
    s += "extern \"C\" __global__ void kernel_" + std::to_string(k) + "(const kevo::Args a) {\n";
    for (int line = 0; line < 40; ++line) {
      s += "  float acc" + std::to_string(line) + " = a.scale * __bfloat162float(a.q[threadIdx.x + " +
           std::to_string(rng.below(128)) + "]);  // step " + std::to_string(line) + "\n";
    }
    s += "}\n";
  }
  s += "// variant " + std::to_string(n) + "\n";
  return s;
}

json make_result(kevo::Rng& rng, const std::string& status) {
  bool ok = status == "ok";
  double speedup = ok ? 0.5 + 9.5 * rng.uniform() * rng.uniform() : 0;
  double err = 0.001 * static_cast<double>(1 + rng.below(300));
  const double index_sizes[] = {0, 1, 2, 4, 8, 16, 32, 64, 96, 128};
  double idx = index_sizes[rng.below(10)];
  json workloads = json::array();
  if (ok || status == "inaccurate") {
    const int shapes[4][2] = {{1, 8192}, {1, 32768}, {1, 131072}, {8, 32768}};
    for (const auto& sh : shapes) {
      double dense = 10.0 * sh[0] * sh[1] / 8192.0;
      json kernels = json::array();
      for (const char* k : {"hash_query", "score", "attend"}) {
        kernels.push_back({{"name", k}, {"us", dense / speedup / 3}, {"registers", 32 + rng.below(96)},
                           {"smem_bytes", rng.below(2) * 49152}, {"local_bytes", 0}});
      }
      workloads.push_back({{"name", "B" + std::to_string(sh[0]) + "-N" + std::to_string(sh[1])},
                           {"B", sh[0]}, {"N", sh[1]}, {"decode_us", dense / speedup},
                           {"dense_us", dense}, {"speedup", speedup}, {"mean_rel_err", err},
                           {"p99_rel_err", err * 3}, {"max_rel_err", err * 6},
                           {"build_us", 5.0}, {"kernels", kernels}});
    }
  }
  std::string log = status == "compile_error" ? std::string(1500, 'e') : "";
  return {{"status", status},
          {"message", ok ? "" : "kernel attend: line 42: what went wrong, in words an LLM can act on"},
          {"fitness", speedup},
          {"metrics", {{"speedup", speedup}, {"mean_rel_err", err}, {"p99_rel_err", err * 3},
                       {"max_rel_err", err * 6}, {"index_bytes_per_token", idx},
                       {"build_ns_per_token", 0.3}, {"compile_ms", 30 + rng.below(40)}}},
          {"workloads", workloads},
          {"artifacts", {{"compile_log", log},
                         {"feedback", "hash_query 1.2 us, score 3.1 us, attend 4.8 us; occupancy "
                                      "limited by registers in attend"}}}};
}

std::string pick_status(kevo::Rng& rng) {
  uint64_t r = rng.below(100);  // shares seen in LLM-driven kernel searches: most children work
  if (r < 60) return "ok";
  if (r < 80) return "compile_error";
  if (r < 90) return "inaccurate";
  if (r < 93) return "timeout";
  if (r < 96) return "crash";
  if (r < 98) return "launch_error";
  if (r < 99) return "invalid_plan";
  return "cheat_detected";
}

// Runs `kevo ARGS` with output discarded; returns wall seconds (the user's view, process start
// included) or -1 on failure.
double time_kevo(const std::string& args) {
  std::string cmd = std::string(KEVO_BINARY) + " " + args + " >/dev/null";
  auto t0 = Clock::now();
  int rc = std::system(cmd.c_str());
  double s = seconds_since(t0);
  return WIFEXITED(rc) && WEXITSTATUS(rc) == 0 ? s : -1;
}

uint64_t file_size(const std::string& p) {
  std::error_code ec;
  auto n = std::filesystem::file_size(p, ec);
  return ec ? 0 : n;
}

// Every page of the web view and its JSON, fetched over HTTP as a browser would (one keep-alive
// connection); min / median / max of 5, and the size of the answer.
bool time_pages(const std::string& db, int64_t programs, int64_t calls, const char* when) {
  kevo::ServeOptions o;
  o.db = db;
  o.port = 0;
  auto srv = kevo::WebServer::start(o);
  if (!srv.ok()) {
    std::fprintf(stderr, "kevo serve: %s\n", srv.status().to_string().c_str());
    return false;
  }
  std::thread serving([&] { (*srv)->serve(); });
  httplib::Client client("127.0.0.1", (*srv)->port());
  client.set_read_timeout(30, 0);
  const std::string mid = std::to_string(programs / 2), last = std::to_string(programs);
  const std::string call = std::to_string(std::max<int64_t>(1, calls / 2));
  const std::vector<std::string> pages = {"/",
                                          "/api/overview",
                                          "/api/points",
                                          "/api/points?after=" + std::to_string(programs - 100),
                                          "/api/map",
                                          "/program/" + mid,
                                          "/api/program/" + mid,
                                          "/program/" + last,
                                          "/llm",
                                          "/api/llm",
                                          "/llm?status=unavailable",
                                          "/llm?outcome=child",
                                          "/llm?outcome=rejected",
                                          "/llm?before=" + call,
                                          "/llm/" + call,
                                          "/api/version"};
  std::printf("\nkevo serve pages (%s), seconds over HTTP, min / median / max of 5:\n", when);
  bool ok = true;
  for (const auto& page : pages) {
    std::vector<double> t;
    size_t bytes = 0;
    int status = 0;
    for (int i = 0; i < 5; ++i) {
      auto t0 = Clock::now();
      auto res = client.Get(page);
      t.push_back(seconds_since(t0));
      status = res ? res->status : -1;
      bytes = res ? res->body.size() : 0;
    }
    std::sort(t.begin(), t.end());
    ok = ok && status == 200 && t[4] < 1.0;
    std::printf("  %-28s %.3f / %.3f / %.3f  %8.1f KB%s\n", page.c_str(), t[0], t[2], t[4],
                bytes / 1e3, status != 200 ? "  FAILED" : (t[4] >= 1.0 ? "  OVER 1 s" : ""));
  }
  (*srv)->stop();
  serving.join();
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t programs = 100000;
  double llm_share = 0.7;
  std::string dir;
  bool keep = false;
  bool reuse = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--programs" && i + 1 < argc) programs = std::atoll(argv[++i]);
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--llm-share" && i + 1 < argc) llm_share = std::atof(argv[++i]);
    else if (a == "--keep") keep = true;
    else if (a == "--reuse") reuse = keep = true;
    else {
      std::fprintf(stderr, "usage: bench_archive [--programs N] [--dir DIR] [--llm-share F] [--keep] "
                           "[--reuse]\n");
      return 2;
    }
  }
  if (dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kevo-bench-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) return 1;
    dir = tmpl;
  }
  const std::string db = dir + "/kevo-runs/bench/kevo.db";
  kevo::RunInfo run;
  run.name = "bench";
  run.config = "run:\n  name: bench\n";
  run.seed = 1;
  kevo::ArchiveConfig cfg;  // defaults: 4 islands, 7 x 9 cells each
  const bool fill = !(reuse && std::filesystem::exists(db));
  auto created = fill ? Archive::create(db, run, cfg) : Archive::open(db);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.status().to_string().c_str());
    return 1;
  }
  auto ar = std::move(created).value();
  kevo::Rng rng(2024);
  double t_select = 0, t_llm = 0, t_begin = 0, t_record = 0;
  int64_t selects = 0, llm_calls = 0;
  auto t_fill = Clock::now();
  if (!fill) programs = ar->totals()->evaluations;
  for (int64_t n = 0; fill && n < programs; ++n) {
    kevo::NewProgram p;
    p.source = make_source(rng, n);
    p.params = {{"BITS", 16 << rng.below(3)}, {"TOPK_DIV", 8 << rng.below(4)}};
    auto t0 = Clock::now();
    auto sel = ar->select();
    t_select += seconds_since(t0);
    if (sel.ok()) {
      ++selects;
      p.parent = sel->parent;
      p.island = sel->island;
      p.origin = rng.uniform() < llm_share ? "llm" : "tuner";
    } else {
      p.island = static_cast<int>(n % cfg.islands);
      p.origin = "seed";
    }
    if (p.origin == "llm") {
      kevo::LlmCall call;
      call.model = "gpt-5-mini";
      call.provider = "openai";
      call.prompt = std::string(16000, 'p');  // task, parent with metrics, inspirations
      call.response = std::string(4000, 'r');  // SEARCH/REPLACE blocks and reasoning summary
      call.tokens_in = 4000 + static_cast<int64_t>(rng.below(2000));
      call.tokens_out = 1000 + static_cast<int64_t>(rng.below(1000));
      call.cost_usd = call.tokens_in * 0.25e-6 + call.tokens_out * 2e-6;
      call.latency_s = 5 + 20 * rng.uniform();
      t0 = Clock::now();
      auto id = ar->record_llm_call(call);
      t_llm += seconds_since(t0);
      if (id.ok()) p.llm_call = *id, ++llm_calls;
    }
    t0 = Clock::now();
    auto b = ar->begin_evaluation(p);
    t_begin += seconds_since(t0);
    if (!b.ok() || b->duplicate) {
      std::fprintf(stderr, "begin failed: %s\n", b.status().to_string().c_str());
      return 1;
    }
    std::string status = n < cfg.islands ? "ok" : pick_status(rng);
    json result = make_result(rng, status);
    t0 = Clock::now();
    auto r = ar->record_result(b->id, result);
    t_record += seconds_since(t0);
    if (!r.ok()) {
      std::fprintf(stderr, "record failed: %s\n", r.status().to_string().c_str());
      return 1;
    }
    if ((n + 1) % 20000 == 0) {
      std::fprintf(stderr, "  %lld programs, %.0f s\n", static_cast<long long>(n + 1),
                   seconds_since(t_fill));
    }
  }
  double fill_s = seconds_since(t_fill);
  uint64_t db_open = file_size(db), wal_open = file_size(db + "-wal");

  if (fill) {
    std::printf("archive bench: %lld programs (%lld with an LLM call), %d islands\n",
                static_cast<long long>(programs), static_cast<long long>(llm_calls), cfg.islands);
  } else {
    std::printf("archive bench: reusing %s (%lld programs)\n", db.c_str(),
                static_cast<long long>(programs));
  }
  if (fill) std::printf("fill: %.1f s, %.0f programs/s; per call: select %.3f ms, record_llm_call %.3f ms, "
              "begin_evaluation %.3f ms, record_result %.3f ms\n",
              fill_s, programs / fill_s, 1e3 * t_select / std::max<int64_t>(selects, 1),
              1e3 * t_llm / std::max<int64_t>(llm_calls, 1), 1e3 * t_begin / programs,
              1e3 * t_record / programs);

  // What the evolution loop calls between evaluations (budgets, progress, parent choice).
  auto t_api = Clock::now();
  for (int i = 0; i < 20; ++i) {
    if (!ar->totals().ok()) return 1;
  }
  double totals_ms = 1e3 * seconds_since(t_api) / 20;
  t_api = Clock::now();
  for (int i = 0; i < 20; ++i) (void)ar->select();
  double select_ms = 1e3 * seconds_since(t_api) / 20;
  std::printf("at %lld programs: Archive::totals %.2f ms, Archive::select %.2f ms\n",
              static_cast<long long>(programs), totals_ms, select_ms);

  // The commands as a user runs them, while the writer still has the run open (the usual case:
  // `kevo status` beside a running `kevo run`), then after it closed.
  const std::vector<std::string> commands = {
      "status", "status --json", "top", "top -n 100", "top --per-cell", "top --island 2 -n 20",
      "show " + std::to_string(programs / 2), "lineage " + std::to_string(programs)};
  auto time_all = [&](const char* when) {
    std::printf("\nkevo commands (%s), wall seconds incl. process start, min / median / max of 5:\n",
                when);
    for (const auto& c : commands) {
      std::vector<double> t;
      for (int i = 0; i < 5; ++i) t.push_back(time_kevo(c + " --db " + db));
      std::sort(t.begin(), t.end());
      std::printf("  kevo %-22s %.3f / %.3f / %.3f%s\n", c.c_str(), t[0], t[2], t[4],
                  t[0] < 0 ? "  FAILED" : (t[4] >= 1.0 ? "  OVER 1 s" : ""));
    }
  };
  time_all("writer open");
  const int64_t calls = ar->totals()->llm_calls;
  bool pages_ok = time_pages(db, programs, calls, "writer open");
  ar.reset();  // closes: the last connection checkpoints the WAL into the file
  time_all("writer closed");
  pages_ok = time_pages(db, programs, calls, "writer closed") && pages_ok;
  uint64_t db_closed = file_size(db);
  std::printf("\nfile size: %.1f MB (kevo.db) while open: %.1f MB + %.1f MB WAL; closed: %.1f MB "
              "(%.1f KB per program)\n",
              db_open / 1e6, db_open / 1e6, wal_open / 1e6, db_closed / 1e6,
              db_closed / 1e3 / static_cast<double>(programs));
  if (!keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  } else {
    std::printf("kept: %s\n", db.c_str());
  }
  return pages_ok ? 0 : 1;
}
