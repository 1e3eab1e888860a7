// The program page: record, lineage, metrics, workloads and kernels, source, diff to the parent,
// and the LLM exchange that made it.
#include "orchestrator/web/render.h"

namespace kevo::web {

using nlohmann::json;

namespace {

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string opt_num(const json& v, int significant = 4) {
  return v.is_number() ? fmt_num(v.get<double>(), significant) : "-";
}

std::string info_table(const json& p) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"status", badge(str(p, "status"))});
  rows.push_back({esc(str(p, "fitness_metric")), opt_num(p["fitness"])});
  rows.push_back({"island", std::to_string(p["island"].get<int>())});
  rows.push_back({"generation", std::to_string(p["generation"].get<int>())});
  rows.push_back({"origin", esc(str(p, "origin"))});
  const json& parent = p["parent"];
  rows.push_back({"parent", parent.is_object() ? program_link(parent["id"].get<int64_t>()) + " " +
                                                     badge(str(parent, "status")) + " " +
                                                     opt_num(parent["fitness"])
                                               : "none (a seed)"});
  if (p["llm_call"].is_object()) {
    const json& c = p["llm_call"];
    rows.push_back({"LLM call", call_link(c["id"].get<int64_t>()) + " " + esc(str(c, "model")) +
                                    ", " + fmt_int(c["tokens_in"].get<int64_t>()) + " tokens in, " +
                                    fmt_int(c["tokens_out"].get<int64_t>()) + " out, " +
                                    fmt_usd(c["cost_usd"].get<double>())});
  }
  if (!str(p, "cell").empty()) rows.push_back({"cell", esc(str(p, "cell"))});
  std::string params;
  for (const auto& [k, v] : p["params"].items()) {
    params += (params.empty() ? "" : " ") + esc(k) + "=" + esc(v.dump());
  }
  rows.push_back(
      {"params", params.empty() ? "(the file's defaults)" : "<code>" + params + "</code>"});
  rows.push_back({"created", esc(fmt_time(p["created_at"].get<double>()))});
  if (p["evaluated_at"].is_number()) {
    rows.push_back({"evaluated", esc(fmt_time(p["evaluated_at"].get<double>()))});
  }
  rows.push_back({"hash", "<code>" + esc(str(p, "hash")) + "</code>"});
  std::string out = "<table class=\"info\"><tbody>";
  for (const auto& r : rows) out += "<tr><th>" + r[0] + "</th><td>" + r[1] + "</td></tr>";
  return out + "</tbody></table>";
}

std::string lineage(const json& p) {
  std::string out = "<p class=\"lineage\">";
  bool first = true;
  for (const auto& s : p["lineage"]) {
    if (!first) out += " &#8594; ";
    first = false;
    bool self = s["id"] == p["id"];
    out += std::string(self ? "<strong>" : "") + program_link(s["id"].get<int64_t>()) + " <small>" +
           esc(str(s, "origin")) + " " + opt_num(s["fitness"], 3) + "</small>" +
           (self ? "</strong>" : "");
  }
  return out + "</p>";
}

std::string workloads(const json& result) {
  if (!result.is_object() || !result.contains("workloads") || !result["workloads"].is_array() ||
      result["workloads"].empty()) {
    return "";
  }
  std::vector<std::vector<std::string>> w, k;
  for (const auto& wl : result["workloads"]) {
    if (!wl.is_object()) continue;
    w.push_back({esc(str(wl, "name")), json_num(wl, "B"), json_num(wl, "N"),
                 json_num(wl, "decode_us"), json_num(wl, "dense_us"), json_num(wl, "speedup"),
                 json_num(wl, "mean_rel_err"), json_num(wl, "p99_rel_err"),
                 json_num(wl, "build_us")});
    if (!wl.contains("kernels") || !wl["kernels"].is_array()) continue;
    for (const auto& kn : wl["kernels"]) {
      k.push_back({esc(str(wl, "name")), esc(str(kn, "name")), json_num(kn, "us"),
                   json_num(kn, "registers"), json_num(kn, "smem_bytes"),
                   json_num(kn, "local_bytes")});
    }
  }
  std::string out =
      "<h3>Workloads</h3>" + html_table({"workload", "B", "N", "decode us", "dense us", "speedup",
                                         "mean_rel_err", "p99_rel_err", "build us"},
                                        w, "num");
  if (!k.empty()) {
    out += "<h3>Kernels (decode phase, in plan order)</h3>" +
           html_table({"workload", "kernel", "us", "registers", "smem bytes", "local bytes"}, k,
                      "num");
  }
  return out;
}

std::string metrics(const json& p) {
  if (!p["metrics"].is_object() || p["metrics"].empty()) return "";
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, v] : p["metrics"].items()) {
    rows.push_back({esc(k), v.is_number() ? fmt_num(v.get<double>(), 6) : esc(v.dump())});
  }
  return "<h3>Metrics</h3>" + html_table({"metric", "value"}, rows, "num");
}

std::string pre_section(const char* title, const std::string& text) {
  if (text.empty()) return "";
  return std::string("<h3>") + title + "</h3><pre class=\"text\">" + esc(text) + "</pre>";
}

}  // namespace

std::string render_program(const json& p) {
  std::string out = "<h1>Program #" + std::to_string(p["id"].get<int64_t>()) + " " +
                    badge(str(p, "status")) + "</h1>";
  out += "<div class=\"two\"><div>" + info_table(p) + "</div><div><h3>Lineage</h3>" + lineage(p);
  if (!p["children"].empty()) {
    out += "<h3>Children (latest)</h3><p>";
    for (const auto& c : p["children"]) {
      out += program_link(c["id"].get<int64_t>()) + " " + badge(str(c, "status")) + " ";
    }
    out += "</p>";
  }
  out += "</div></div>";
  out += pre_section("Message", str(p, "message"));
  out += metrics(p) + workloads(p["result"]);
  if (p["holdout"].is_object()) {
    out +=
        "<h3>Holdout</h3><p>" + badge(str(p["holdout"], "status")) + " " +
        esc(str(p, "fitness_metric")) + " " +
        json_num(p["holdout"].value("metrics", json::object()), str(p, "fitness_metric").c_str()) +
        ", mean_rel_err " +
        json_num(p["holdout"].value("metrics", json::object()), "mean_rel_err") + "</p>";
  }
  out += pre_section("Feedback", str(p, "feedback"));
  out += pre_section("Compile log", str(p, "compile_log"));
  out += "<h3>Source</h3><pre class=\"src\"><code>" + highlight_cuda(str(p, "source")) +
         "</code></pre>";
  if (p["diff"].is_object()) {
    const json& d = p["diff"];
    out += "<h3>Diff to its parent " + program_link(p["parent"]["id"].get<int64_t>()) +
           " <small>+" + std::to_string(d["added"].get<int>()) + " -" +
           std::to_string(d["removed"].get<int>()) + " lines</small></h3>";
    out += str(d, "text").empty()
               ? "<p>Same source as its parent (params differ).</p>"
               : "<pre class=\"diff\"><code>" + diff_html(str(d, "text")) + "</code></pre>";
  }
  if (p["llm_call"].is_object()) {
    out += "<h3>The LLM exchange that made it</h3>" + render_exchange(p["llm_call"]);
  }
  return out;
}

}  // namespace kevo::web
