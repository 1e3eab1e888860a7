// Feature bins and cell keys of the MAP-Elites grid (archive.h).
#include <charconv>
#include <cmath>
#include <sstream>

#include "archive/archive.h"

namespace kevo {

int bin_index(const FeatureAxis& axis, double value) {
  for (size_t i = 0; i < axis.bins.size(); ++i) {
    if (value <= axis.bins[i]) return static_cast<int>(i);
  }
  return static_cast<int>(axis.bins.size());
}

std::string cell_key(const std::vector<int>& bins) {
  std::string key;
  for (size_t i = 0; i < bins.size(); ++i) {
    if (i) key += ',';
    key += std::to_string(bins[i]);
  }
  return key;
}

std::vector<int> cell_bins(std::string_view key) {
  std::vector<int> bins;
  if (key.empty()) return bins;
  size_t i = 0;
  while (true) {
    size_t comma = key.find(',', i);
    std::string_view part = key.substr(i, comma == std::string_view::npos ? key.npos : comma - i);
    int v = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec != std::errc() || p != part.data() + part.size() || part.empty() || v < 0) return {};
    bins.push_back(v);
    if (comma == std::string_view::npos) return bins;
    i = comma + 1;
  }
}

namespace {
std::string short_number(double v) {
  std::ostringstream ss;
  ss << v;  // 6 significant digits, no trailing zeros: 0.005, 128, 1e-05
  return ss.str();
}
}  // namespace

std::string bin_label(const FeatureAxis& axis, int bin) {
  if (axis.bins.empty()) return "all";
  if (bin < static_cast<int>(axis.bins.size())) return "<=" + short_number(axis.bins[bin]);
  return ">" + short_number(axis.bins.back());
}

std::string cell_label(const ArchiveConfig& config, std::string_view key) {
  std::vector<int> bins = cell_bins(key);
  if (bins.size() != config.features.size()) return std::string(key);
  std::string out;
  for (size_t i = 0; i < bins.size(); ++i) {
    if (i) out += ' ';
    out += config.features[i].metric + bin_label(config.features[i], bins[i]);
  }
  return out;
}

}  // namespace kevo
