#include "orchestrator/evolution/gpu_select.h"

#include <algorithm>
#include <cstdlib>
#include <set>

namespace kevo {
namespace {

std::string listing(const std::vector<GpuInfo>& available) {
  std::string out;
  for (const GpuInfo& g : available) {
    out += (out.empty() ? "" : ", ") + std::to_string(g.index) + " (" + g.name + ")";
  }
  return out.empty() ? "none" : out;
}

}  // namespace

bool shared_gpus_allowed() {
  const char* v = std::getenv("KEVO_ALLOW_SHARED_GPU");
  return v && std::string(v) == "1";
}

Result<GpuSelection> select_gpus(const std::vector<GpuInfo>& available, const std::string& spec,
                                 bool allow_mixed, bool allow_shared) {
  GpuSelection out;
  if (spec == "all") {
    out.gpus = available;
  } else {
    std::set<int> seen;
    size_t pos = 0;
    while (pos <= spec.size()) {
      size_t comma = spec.find(',', pos);
      std::string item =
          spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      item.erase(0, item.find_first_not_of(' '));
      item.erase(item.find_last_not_of(' ') + 1);
      if (item.empty() || item.size() > 4 ||
          item.find_first_not_of("0123456789") != std::string::npos) {
        return Status::InvalidArgument("--gpus " + spec +
                                       ": expected 'all' or GPU indices "
                                       "such as 0,2 (GPUs here: " +
                                       listing(available) + ")");
      }
      int index = std::stoi(item);
      auto it = std::find_if(available.begin(), available.end(),
                             [&](const GpuInfo& g) { return g.index == index; });
      if (it == available.end()) {
        return Status::InvalidArgument("--gpus " + spec + ": no GPU " + item +
                                       " (GPUs here: " + listing(available) + ")");
      }
      if (!seen.insert(index).second && !allow_shared) {
        return Status::InvalidArgument(
            "--gpus " + spec + ": GPU " + item +
            " is listed twice; two runners on one GPU only "
            "test the multi-runner path (set KEVO_ALLOW_SHARED_GPU=1 for that)");
      }
      out.gpus.push_back(*it);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  if (out.gpus.empty()) return Status::Unavailable("no GPU to evaluate on");
  for (const GpuInfo& g : out.gpus) {
    if (std::find(out.models.begin(), out.models.end(), g.name) == out.models.end()) {
      out.models.push_back(g.name);
    }
  }
  if (out.models.size() > 1 && !allow_mixed) {
    std::string models;
    for (const auto& m : out.models) models += (models.empty() ? "" : ", ") + m;
    return Status::InvalidArgument(
        "the GPUs are of different models (" + models +
        "): their speedups are not comparable. "
        "Pick GPUs of one model with --gpus, or pass --allow-mixed-gpus to give each model "
        "islands of its own");
  }
  return out;
}

}  // namespace kevo
