// Typed YAML configuration. Each component declares a plain struct with defaults (and a comment
// giving the reason for each default) plus a `bind` function that names its keys:
//
//   void bind(YamlSection& s, TimingConfig& c) {
//     s.field("min_iterations", c.min_iterations);
//     s.field("max_seconds", c.max_seconds);
//   }
//
// YamlSection records the first wrong type, and finish() reports any key nobody bound, each with
// its file and line, so a typo in a config never goes unnoticed. Not thread-safe; short-lived.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "common/status.h"

namespace kevo {

class YamlSection {
 public:
  // `file` names the source in messages; `path` is the dotted key path of this section ("" = root).
  YamlSection(YAML::Node node, std::string file, std::string path = "");

  // Reads `key` into `out` if present; a missing key keeps the default.
  template <typename T>
  void field(const std::string& key, T& out);

  // Binds a nested mapping with `bind(YamlSection&, T&)`.
  template <typename T>
  void section(const std::string& key, T& out);

  // Binds a sequence of mappings, each with `bind(YamlSection&, T&)`. A present key replaces the
  // default list entirely.
  template <typename T>
  void section_list(const std::string& key, std::vector<T>& out);

  // Adds an error about `key` (for checks bind functions make themselves: ranges, enums).
  void error(const std::string& key, const std::string& what);

  // Reports keys present in the YAML that no field()/section() call named.
  // Returns the first error of this section and all sections made from it.
  Status finish();

  const std::string& file() const { return file_; }
  std::string where(const std::string& key) const;  // "file:line: key 'a.b'"

 private:
  struct Errors {
    std::vector<std::string> messages;
  };
  YamlSection(YAML::Node node, std::string file, std::string path, std::shared_ptr<Errors> errors);
  std::string key_path(const std::string& key) const;
  template <typename T>
  bool convert_scalar(const YAML::Node& n, const std::string& key, T& out);

  YAML::Node node_;
  std::string file_;
  std::string path_;
  std::set<std::string> seen_;
  std::shared_ptr<Errors> errors_;
};

// Parses `text` (named `file` in messages) and binds the root mapping onto `out`.
template <typename T>
Status load_yaml_config(const std::string& text, const std::string& file, T& out);
// Reads the file at `path` first.
template <typename T>
Status load_yaml_config_file(const std::string& path, T& out);

// ---- implementation -------------------------------------------------------------------------

namespace yaml_detail {
template <typename T>
constexpr const char* type_name() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else return "a string";
}
template <typename T> struct is_vector : std::false_type {};
template <typename T> struct is_vector<std::vector<T>> : std::true_type { using elem = T; };
template <typename T> struct is_map : std::false_type {};
template <typename V> struct is_map<std::map<std::string, V>> : std::true_type { using elem = V; };
}  // namespace yaml_detail

template <typename T>
bool YamlSection::convert_scalar(const YAML::Node& n, const std::string& key, T& out) {
  if (!n.IsScalar()) {
    error(key, std::string("expected ") + yaml_detail::type_name<T>());
    return false;
  }
  if constexpr (std::is_same_v<T, std::string>) {
    out = n.Scalar();
    return true;
  } else {
    T tmp{};
    if (!YAML::convert<T>::decode(n, tmp)) {
      error(key, std::string("expected ") + yaml_detail::type_name<T>() + ", got '" + n.Scalar() + "'");
      return false;
    }
    out = tmp;
    return true;
  }
}

template <typename T>
void YamlSection::field(const std::string& key, T& out) {
  seen_.insert(key);
  if (!node_.IsMap()) return;
  YAML::Node n = node_[key];
  if (!n.IsDefined() || n.IsNull()) return;
  if constexpr (yaml_detail::is_vector<T>::value) {
    using E = typename yaml_detail::is_vector<T>::elem;
    if (!n.IsSequence()) {
      error(key, std::string("expected a list of ") + yaml_detail::type_name<E>());
      return;
    }
    T tmp;
    for (std::size_t i = 0; i < n.size(); ++i) {
      E e{};
      if (!convert_scalar(n[i], key + "[" + std::to_string(i) + "]", e)) return;
      tmp.push_back(std::move(e));
    }
    out = std::move(tmp);
  } else if constexpr (yaml_detail::is_map<T>::value) {
    using E = typename yaml_detail::is_map<T>::elem;
    if (!n.IsMap()) {
      error(key, std::string("expected a mapping of names to ") + yaml_detail::type_name<E>());
      return;
    }
    T tmp;
    for (auto it = n.begin(); it != n.end(); ++it) {
      E e{};
      std::string name = it->first.Scalar();
      if (!convert_scalar(it->second, key + "." + name, e)) return;
      tmp[name] = std::move(e);
    }
    out = std::move(tmp);
  } else {
    convert_scalar(n, key, out);
  }
}

template <typename T>
void YamlSection::section(const std::string& key, T& out) {
  seen_.insert(key);
  if (!node_.IsMap()) return;
  YAML::Node n = node_[key];
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsMap()) {
    error(key, "expected a mapping (key: value lines)");
    return;
  }
  YamlSection child(n, file_, key_path(key), errors_);
  bind(child, out);
  (void)child.finish();
}

template <typename T>
void YamlSection::section_list(const std::string& key, std::vector<T>& out) {
  seen_.insert(key);
  if (!node_.IsMap()) return;
  YAML::Node n = node_[key];
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsSequence()) {
    error(key, "expected a list");
    return;
  }
  std::vector<T> tmp;
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsMap()) {
      error(key + "[" + std::to_string(i) + "]", "expected a mapping");
      return;
    }
    T item{};
    YamlSection child(n[i], file_, key_path(key) + "[" + std::to_string(i) + "]", errors_);
    bind(child, item);
    (void)child.finish();
    tmp.push_back(std::move(item));
  }
  out = std::move(tmp);
}

Status parse_yaml(const std::string& text, const std::string& file, YAML::Node& out);
Status read_text_file(const std::string& path, std::string& out);

template <typename T>
Status load_yaml_config(const std::string& text, const std::string& file, T& out) {
  YAML::Node root;
  KEVO_RETURN_IF_ERROR(parse_yaml(text, file, root));
  if (!root.IsNull() && !root.IsMap()) {
    return Status::InvalidArgument(file + ": the top level must be a mapping (key: value lines)");
  }
  YamlSection s(root, file);
  bind(s, out);
  return s.finish();
}

template <typename T>
Status load_yaml_config_file(const std::string& path, T& out) {
  std::string text;
  KEVO_RETURN_IF_ERROR(read_text_file(path, text));
  return load_yaml_config(text, path, out);
}

}  // namespace kevo
