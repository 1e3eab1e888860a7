// MAP-Elites heat maps as inline SVG, one per island: rows are the first feature axis, columns
// the second (with more axes a cell shows the best over the rest). Colours come from SVG
// attributes, not inline styles, so the page's Content-Security-Policy needs no 'unsafe-inline'.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "orchestrator/web/render.h"

namespace kevo::web {

using nlohmann::json;

namespace {

// Viridis at five stops: readable in grey and by most colour-blind readers.
std::string colour(double t, bool* dark) {
  static const double stops[5][3] = {
      {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::clamp(t, 0.0, 1.0);
  double x = t * 4;
  int i = std::min(3, static_cast<int>(x));
  double f = x - i;
  int rgb[3];
  for (int k = 0; k < 3; ++k) {
    rgb[k] = static_cast<int>(std::lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])));
  }
  if (dark) *dark = t < 0.6;
  char buf[16];
  std::snprintf(buf, sizeof(buf), "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buf;
}

struct Cell {
  double fitness = 0;
  int64_t program = 0;
  std::string label;
  bool set = false;
};

}  // namespace

std::string render_heatmaps(const json& map) {
  const json& features = map["features"];
  if (!features.is_array() || features.empty()) return "<p>No feature axes.</p>";
  const json& rows_axis = features[0];
  const bool two = features.size() >= 2;
  const size_t nr = rows_axis["labels"].size();
  const size_t nc = two ? features[1]["labels"].size() : 1;
  const int64_t best = map["best"].is_number() ? map["best"].get<int64_t>() : -1;
  double max_fit = 0;
  for (const auto& isl : map["islands"]) {
    for (const auto& c : isl["cells"]) max_fit = std::max(max_fit, c["fitness"].get<double>());
  }
  const int cw = 46, ch = 24, left = 92, top = 48;
  const int width = left + static_cast<int>(nc) * cw + 8;
  const int height = top + static_cast<int>(nr) * ch + 8;
  std::string out = "<div class=\"heatmaps\">";
  for (const auto& isl : map["islands"]) {
    std::vector<std::vector<Cell>> grid(nr, std::vector<Cell>(nc));
    for (const auto& c : isl["cells"]) {
      const json& bins = c["cell"];
      if (!bins.is_array() || bins.size() != features.size()) continue;
      size_t r = std::min<size_t>(bins[0].get<size_t>(), nr - 1);
      size_t k = two ? std::min<size_t>(bins[1].get<size_t>(), nc - 1) : 0;
      Cell& cell = grid[r][k];
      double f = c["fitness"].get<double>();
      if (!cell.set || f > cell.fitness) {
        cell = {f, c["program"].get<int64_t>(), c["label"].get<std::string>(), true};
      }
    }
    std::string svg = "<svg class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                      std::to_string(width) + "\" height=\"" + std::to_string(height) +
                      "\" role=\"img\">";
    svg += "<text x=\"0\" y=\"14\" class=\"hm-title\">island " +
           std::to_string(isl["island"].get<int>()) + "</text>";
    svg += "<text x=\"" + std::to_string(left) + "\" y=\"14\" class=\"hm-axis\">" +
           esc(two ? features[1]["metric"].get<std::string>() : "") + " &#8594;</text>";
    svg += "<text x=\"0\" y=\"" + std::to_string(top - 20) + "\" class=\"hm-axis\">" +
           esc(rows_axis["metric"].get<std::string>()) + " &#8595;</text>";
    for (size_t k = 0; k < nc && two; ++k) {
      svg += "<text x=\"" + std::to_string(left + static_cast<int>(k) * cw + cw / 2) + "\" y=\"" +
             std::to_string(top - 6) + "\" class=\"hm-col\">" +
             esc(features[1]["labels"][k].get<std::string>()) + "</text>";
    }
    for (size_t r = 0; r < nr; ++r) {
      const int y = top + static_cast<int>(r) * ch;
      svg += "<text x=\"" + std::to_string(left - 4) + "\" y=\"" + std::to_string(y + ch / 2 + 4) +
             "\" class=\"hm-row\">" + esc(rows_axis["labels"][r].get<std::string>()) + "</text>";
      for (size_t k = 0; k < nc; ++k) {
        const Cell& cell = grid[r][k];
        const std::string xy = "x=\"" + std::to_string(left + static_cast<int>(k) * cw) +
                               "\" y=\"" + std::to_string(y) + "\" width=\"" +
                               std::to_string(cw - 2) + "\" height=\"" + std::to_string(ch - 2) +
                               "\"";
        if (!cell.set) {
          svg += "<rect " + xy + " fill=\"#eef0f3\"/>";
          continue;
        }
        bool dark = false;
        std::string fill = colour(max_fit > 0 ? cell.fitness / max_fit : 0, &dark);
        const bool is_best = cell.program == best;
        svg += "<a href=\"/program/" + std::to_string(cell.program) + "\"><title>" +
               esc(cell.label) + ": " + esc(map["fitness_metric"].get<std::string>()) + " " +
               fmt_num(cell.fitness, 4) + ", program #" + std::to_string(cell.program) +
               (is_best ? " (best)" : "") + "</title><rect " + xy + " fill=\"" + fill + "\"" +
               (is_best ? " stroke=\"#e4002b\" stroke-width=\"3\"" : "") + "/><text x=\"" +
               std::to_string(left + static_cast<int>(k) * cw + cw / 2 - 1) + "\" y=\"" +
               std::to_string(y + ch / 2 + 3) + "\" class=\"hm-val\" fill=\"" +
               (dark ? "#ffffff" : "#111111") + "\">" + fmt_num(cell.fitness, 3) + "</text></a>";
      }
    }
    out += svg + "</svg>";
  }
  // The colour scale, shared by every island.
  out +=
      "<div class=\"hm-legend\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"220\" "
      "height=\"30\">";
  for (int i = 0; i < 20; ++i) {
    out += "<rect x=\"" + std::to_string(10 + i * 10) +
           "\" y=\"2\" width=\"10\" height=\"10\" "
           "fill=\"" +
           colour(i / 19.0, nullptr) + "\"/>";
  }
  out +=
      "<text x=\"10\" y=\"26\" class=\"hm-axis\">0</text><text x=\"210\" y=\"26\" "
      "class=\"hm-axis\" text-anchor=\"end\">" +
      fmt_num(max_fit, 3) + "</text></svg><span>" + esc(map["fitness_metric"].get<std::string>()) +
      " of each cell's elite; red outline: "
      "the best program</span></div></div>";
  return out;
}

}  // namespace kevo::web
