#include "archive/diff.h"

#include <algorithm>

namespace kevo {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(i, nl - i));
    i = nl + 1;
  }
  return lines;
}

std::vector<DiffLine> diff_lines(std::string_view a_text, std::string_view b_text) {
  const auto a = split_lines(a_text), b = split_lines(b_text);
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  const int max = n + m;
  // v[k + max]: furthest x reached on diagonal k (= x - y). trace[d] keeps v for k in [-d, d]
  // after step d, for the walk back; its size grows as D^2, fine for source files.
  std::vector<int> v(2 * static_cast<size_t>(max) + 2, 0);
  std::vector<std::vector<int>> trace;
  int d_end = 0;
  for (int d = 0; d <= max; ++d) {
    bool done = false;
    for (int k = -d; k <= d; k += 2) {
      int x = (k == -d || (k != d && v[k - 1 + max] < v[k + 1 + max])) ? v[k + 1 + max]
                                                                        : v[k - 1 + max] + 1;
      int y = x - k;
      while (x < n && y < m && a[x] == b[y]) ++x, ++y;
      v[k + max] = x;
      if (x >= n && y >= m) done = true;
    }
    trace.emplace_back(v.begin() + (max - d), v.begin() + (max + d + 1));
    if (done) {
      d_end = d;
      break;
    }
  }
  // Walk back from (n, m), emitting the script in reverse.
  std::vector<DiffLine> out;
  int x = n, y = m;
  for (int d = d_end; d > 0; --d) {
    const auto& prev = trace[d - 1];  // index k + (d - 1)
    auto at = [&](int k) { return prev[k + d - 1]; };
    int k = x - y;
    int prev_k = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1;
    int prev_x = at(prev_k), prev_y = prev_x - prev_k;
    while (x > prev_x && y > prev_y) out.push_back({DiffLine::kEqual, a[--x]}), --y;
    if (x == prev_x) {
      out.push_back({DiffLine::kInsert, b[--y]});
    } else {
      out.push_back({DiffLine::kDelete, a[--x]});
    }
  }
  while (x > 0 && y > 0) out.push_back({DiffLine::kEqual, a[--x]}), --y;
  std::reverse(out.begin(), out.end());
  return out;
}

std::string unified_diff(std::string_view a, std::string_view b, std::string_view a_label,
                         std::string_view b_label, int context, DiffStats* stats) {
  const auto ops = diff_lines(a, b);
  const size_t count = ops.size();
  // Line numbers (0-based) in a and b where each op starts.
  std::vector<int> a_at(count + 1, 0), b_at(count + 1, 0);
  DiffStats st;
  for (size_t i = 0; i < count; ++i) {
    a_at[i + 1] = a_at[i] + (ops[i].kind != DiffLine::kInsert);
    b_at[i + 1] = b_at[i] + (ops[i].kind != DiffLine::kDelete);
    st.added += ops[i].kind == DiffLine::kInsert;
    st.removed += ops[i].kind == DiffLine::kDelete;
  }
  if (stats) *stats = st;
  if (st.added == 0 && st.removed == 0) return "";
  const size_t ctx = static_cast<size_t>(std::max(context, 0));
  std::string out = "--- " + std::string(a_label) + "\n+++ " + std::string(b_label) + "\n";
  size_t i = 0;
  while (i < count) {
    if (ops[i].kind == DiffLine::kEqual) {
      ++i;
      continue;
    }
    // A hunk: changes closer than 2 * context lines share one.
    size_t start = i > ctx ? i - ctx : 0;
    size_t last_change = i;
    for (size_t j = i; j < count; ++j) {
      if (ops[j].kind != DiffLine::kEqual) {
        last_change = j;
      } else if (j - last_change > 2 * ctx) {
        break;
      }
    }
    size_t end = std::min(count, last_change + ctx + 1);
    int a_len = a_at[end] - a_at[start], b_len = b_at[end] - b_at[start];
    // As diff -u: an empty side names the line before it.
    out += "@@ -" + std::to_string(a_at[start] + (a_len ? 1 : 0)) + "," + std::to_string(a_len) +
           " +" + std::to_string(b_at[start] + (b_len ? 1 : 0)) + "," + std::to_string(b_len) +
           " @@\n";
    for (size_t j = start; j < end; ++j) {
      out += ops[j].kind == DiffLine::kEqual ? ' ' : ops[j].kind == DiffLine::kDelete ? '-' : '+';
      out.append(ops[j].text);
      out += '\n';
    }
    i = end;
  }
  return out;
}

}  // namespace kevo
