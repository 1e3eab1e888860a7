#include "evaluator/compile_cache.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/hash.h"
#include "evaluator/device_headers.h"

namespace kevo {
namespace fs = std::filesystem;

std::string compile_cache_key(const std::string& source, const std::map<std::string, int64_t>& params,
                              const std::string& arch, const std::string& nvrtc_version,
                              const std::vector<std::string>& options) {
  Sha256 h;
  h.update_field("kevo-compile-cache-v1");
  h.update_field(source);
  for (const auto& [name, value] : params) {  // std::map: sorted by name
    h.update_field(name);
    h.update_field(std::to_string(value));
  }
  h.update_field(arch);
  h.update_field(nvrtc_version);
  h.update_field(device_headers_hash());
  for (const auto& o : options) h.update_field(o);
  return h.hex_digest();
}

std::optional<CompileOutcome> cache_load(const std::string& dir, const std::string& key) {
  std::ifstream in(fs::path(dir) / (key + ".json"), std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  auto o = compile_outcome_from_json(j);
  if (!o.ok() || o->status != EvalStatus::kOk || o->cubin.empty()) return std::nullopt;
  return std::move(o).value();
}

Status cache_store(const std::string& dir, const std::string& key, const CompileOutcome& outcome) {
  static std::atomic<uint64_t> counter{0};
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create compile cache folder " + dir + ": " + ec.message());
  fs::path final_path = fs::path(dir) / (key + ".json");
  fs::path tmp = fs::path(dir) / ("." + key + ".tmp." + std::to_string(getpid()) + "." +
                                  std::to_string(counter.fetch_add(1)));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << to_json(outcome).dump();
    out.flush();
    if (!out) {
      fs::remove(tmp, ec);
      return Status::IoError("cannot write compile cache entry " + tmp.string());
    }
  }
  fs::rename(tmp, final_path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Status::IoError("cannot move compile cache entry into place: " + final_path.string());
  }
  return Status::Ok();
}

}  // namespace kevo
