// `kevo doctor`: what this machine offers kevo (toolkit, NVRTC, driver, a row per GPU with its
// measured copy bandwidth or a "no GPU" row, Landlock, SQLite, a row per LLM model with whether
// its key is set, and with --probe one tiny request per model). Exit 1 when a probe failed, else
// 3 when there is no usable GPU, else 0.
#include <cuda.h>  // CUDA_VERSION: the toolkit kevo was built with
#include <nvrtc.h>
#include <sqlite3.h>

#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "evaluator/counters.h"
#include "evaluator/gpu_info.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/doctor_llm.h"
#include "sandbox/sandbox.h"

namespace kevo::cli {
namespace {

struct DoctorOptions {
  bool json = false;
  bool no_bandwidth = false;
  bool probe = false;
  std::string config;
};

std::string version_text(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

int run_doctor(const DoctorOptions& opt) {
  nlohmann::json report;
  int nvrtc_major = 0, nvrtc_minor = 0;
  nvrtcVersion(&nvrtc_major, &nvrtc_minor);
  int narch = 0;
  nvrtcGetNumSupportedArchs(&narch);
  std::vector<int> archs(narch);
  if (narch) nvrtcGetSupportedArchs(archs.data());
  report["toolkit"] = {{"cuda_version", version_text(CUDA_VERSION)},
                       {"nvrtc_version", std::to_string(nvrtc_major) + "." + std::to_string(nvrtc_minor)},
                       {"nvrtc_archs", archs}};
  int landlock = landlock_abi_version();
  report["landlock"] = {{"available", landlock > 0}, {"abi", landlock}};
  report["sqlite_version"] = sqlite3_libversion();
  report["llm"] = llm_report(opt.config, opt.probe);

  auto driver = cuda_driver_version();
  std::string gpu_error;
  if (driver.ok()) {
    report["driver"] = {{"version", version_text(*driver)}};
    auto gpus = query_gpus(!opt.no_bandwidth);
    if (gpus.ok()) {
      report["gpus"] = nlohmann::json::array();
      for (const auto& g : *gpus) report["gpus"].push_back(to_json(g));
      // Hardware counters are optional: their absence is one line here, never a failure.
      auto counters = probe_counters(0);
      report["counters"] = {{"available", counters.ok()},
                            {"detail", counters.ok() ? *counters : counters.status().message()}};
    } else {
      gpu_error = gpus.status().message();
    }
  } else {
    gpu_error = driver.status().message();
  }
  if (!gpu_error.empty()) {
    report["gpus"] = nlohmann::json::array();
    report["gpu_error"] = gpu_error;
  }

  if (opt.json) {
    std::cout << report.dump(2) << "\n";
  } else {
    std::ostringstream o;
    auto row = [&](const std::string& k, const std::string& v) {
      o << "  " << std::left << std::setw(16) << k << v << "\n";
    };
    o << "kevo doctor\n";
    row("CUDA toolkit", report["toolkit"]["cuda_version"].get<std::string>());
    std::string arch_list;
    for (int a : archs) arch_list += (arch_list.empty() ? "sm_" : " sm_") + std::to_string(a);
    row("NVRTC", report["toolkit"]["nvrtc_version"].get<std::string>() + " (" + arch_list + ")");
    row("Landlock", landlock > 0 ? "yes, ABI " + std::to_string(landlock)
                                 : "no: compile workers fall back to seccomp and rlimits only");
    row("SQLite", sqlite3_libversion());
    for (const auto& [label, value] : llm_rows(report["llm"])) row(label, value);
    if (report.contains("driver")) row("driver", "CUDA " + report["driver"]["version"].get<std::string>());
    for (const auto& g : report["gpus"]) {
      std::ostringstream line;
      line << g["name"].get<std::string>() << ", " << g["arch"].get<std::string>() << ", "
           << g["sm_count"].get<int>() << " SMs, " << std::fixed << std::setprecision(1)
           << g["memory_bytes"].get<double>() / (1 << 30) << " GiB, L2 "
           << g["l2_bytes"].get<double>() / (1 << 20) << " MiB";
      if (g["copy_gbps"].get<double>() > 0) {
        line << ", copy " << std::setprecision(0) << g["copy_gbps"].get<double>() << " GB/s";
      }
      row("GPU " + std::to_string(g["index"].get<int>()), line.str());
    }
    if (report.contains("counters")) {
      const auto& c = report["counters"];
      row("counters", c["available"].get<bool>() ? "yes, " + c["detail"].get<std::string>()
                                                 : "no: " + c["detail"].get<std::string>() +
                                                       " (results carry no hardware counters)");
    }
    if (report["gpus"].empty()) row("GPU", "none: " + gpu_error);
    std::cout << o.str();
  }
  bool probe_failed = false;
  for (const auto& m : report["llm"]["models"]) {
    probe_failed |= m.contains("probe") && !m["probe"]["ok"].get<bool>();
  }
  if (probe_failed) return fail(kExitFailure, "an LLM probe failed (see the LLM rows above)");
  if (!gpu_error.empty()) return fail(kExitNoGpu, gpu_error);
  return kExitOk;
}

}  // namespace

void add_doctor_command(CLI::App& app, Cli& cli) {
  auto opt = std::make_shared<DoctorOptions>();
  auto* cmd = app.add_subcommand(
      "doctor",
      "Check the CUDA toolkit, NVRTC, driver, GPUs (with measured copy bandwidth), "
      "Landlock, SQLite and the LLM models (whether each one's key is set; --probe "
      "sends each one tiny request). Exits 1 when a probe failed, else 3 when no GPU "
      "is usable.");
  cmd->add_flag("--json", opt->json, "machine-readable output");
  cmd->add_flag("--no-bandwidth", opt->no_bandwidth, "skip the copy-bandwidth measurement");
  cmd->add_option("--config", opt->config, "also check the LLM models of this run config")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--probe", opt->probe,
                "send each LLM model one tiny request (a few tokens) and report its latency or "
                "its error");
  cmd->callback([&cli, opt] { cli.exit_code = run_doctor(*opt); });
}

}  // namespace kevo::cli
