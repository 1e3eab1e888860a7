// Typed YAML configuration. Each component declares a plain struct with defaults (and a comment
// giving the reason for each default) plus a `bind` function that names its keys:
//
//   void bind(YamlSection& s, TimingConfig& c) {
//     s.field("min_iterations", c.min_iterations);
//     s.field("max_seconds", c.max_seconds);
//   }
//
// YamlSection records every wrong type, range error, unknown or duplicate key, each with its file
// and line, so a typo in a config never goes unnoticed and all problems are reported at once.
// The same bind functions also write a config out: a section made by YamlSection::dumper()
// records every field's current value, so the resolved config (defaults and file together) can
// be printed without listing the fields twice. Not thread-safe; short-lived.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

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

  // A section that writes instead of reading: every field() stores the bound variable's value
  // into `out` (an object, keys in binding order), section() and section_list() nest. Errors
  // are ignored.
  static YamlSection dumper(nlohmann::ordered_json& out);
  bool dumping() const { return dump_ != nullptr; }

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

  // Reports keys present in the YAML that no field()/section() call named, and keys given twice.
  // Returns every error of this section and all sections made from it, one per line (the first
  // line is the first error), or Ok.
  Status finish();
  // Every error so far, one "file:line: key 'a.b': what" each.
  const std::vector<std::string>& messages() const { return errors_->messages; }

  const std::string& file() const { return file_; }
  std::string where(const std::string& key) const;  // "file:line: key 'a.b'"

 private:
  struct Errors {
    std::vector<std::string> messages;
  };
  YamlSection(YAML::Node node, std::string file, std::string path, std::shared_ptr<Errors> errors);
  nlohmann::ordered_json* dump_ = nullptr;  // non-null: a dumper (see dumper())
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
  if (dump_) {
    (*dump_)[key] = out;
    return;
  }
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
  if (dump_) {
    YamlSection child = dumper((*dump_)[key] = nlohmann::ordered_json::object());
    bind(child, out);
    return;
  }
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
  if (dump_) {
    nlohmann::ordered_json& list = (*dump_)[key] = nlohmann::ordered_json::array();
    for (T& item : out) {
      list.push_back(nlohmann::ordered_json::object());
      YamlSection child = dumper(list.back());
      bind(child, item);
    }
    return;
  }
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
// NotFound for a missing file, InvalidArgument for a folder, IoError when it cannot be read.
Status read_text_file(const std::string& path, std::string& out);

// "file:line: key 'a.b[2].c'" for a dotted key path under `root` (list items as [i]), with the
// line of the deepest part of the path the file has (the section's when the key is absent).
std::string yaml_location(const YAML::Node& root, const std::string& file,
                          const std::string& key_path);

// Binds an already parsed root node (overrides applied to it keep the file's line numbers).
template <typename T>
Status load_yaml_node(const YAML::Node& root, const std::string& file, T& out) {
  if (!root.IsNull() && root.IsDefined() && !root.IsMap()) {
    return Status::InvalidArgument(file + ": the top level must be a mapping (key: value lines)");
  }
  YamlSection s(root, file);
  bind(s, out);
  return s.finish();
}

template <typename T>
Status load_yaml_config(const std::string& text, const std::string& file, T& out) {
  YAML::Node root;
  KEVO_RETURN_IF_ERROR(parse_yaml(text, file, root));
  return load_yaml_node(root, file, out);
}

// The values `config` holds, as JSON in binding order, through its bind functions (see
// YamlSection::dumper).
template <typename T>
nlohmann::ordered_json dump_config(T config) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  YamlSection s = YamlSection::dumper(out);
  bind(s, config);
  return out;
}

template <typename T>
Status load_yaml_config_file(const std::string& path, T& out) {
  std::string text;
  KEVO_RETURN_IF_ERROR(read_text_file(path, text));
  return load_yaml_config(text, path, out);
}

}  // namespace kevo
