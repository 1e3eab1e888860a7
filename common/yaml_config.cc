#include "common/yaml_config.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace kevo {

YamlSection::YamlSection(YAML::Node node, std::string file, std::string path)
    : YamlSection(std::move(node), std::move(file), std::move(path), std::make_shared<Errors>()) {}

YamlSection::YamlSection(YAML::Node node, std::string file, std::string path,
                         std::shared_ptr<Errors> errors)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)), errors_(std::move(errors)) {}

YamlSection YamlSection::dumper(nlohmann::ordered_json& out) {
  YamlSection s(YAML::Node(), "", "");
  s.dump_ = &out;
  return s;
}

std::string YamlSection::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

std::string YamlSection::where(const std::string& key) const {
  int line = -1;
  if (node_.IsMap()) {
    // The key's own node gives the best line; fall back to the section's.
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (it->first.Scalar() == key) {
        line = it->first.Mark().line;
        break;
      }
    }
  }
  if (line < 0) line = node_.Mark().line;
  std::string loc = file_;
  if (line >= 0) loc += ":" + std::to_string(line + 1);
  return loc + ": key '" + key_path(key) + "'";
}

void YamlSection::error(const std::string& key, const std::string& what) {
  if (dump_) return;
  // "bins[2]" or "models[1].base_url": the line of the deepest part the file has.
  std::string base = key.substr(0, key.find_first_of("[."));
  std::string msg;
  if (base == key) {
    msg = where(key);
  } else {
    std::string loc = yaml_location(node_, file_, key);
    msg = loc.substr(0, loc.find(": key '")) + ": key '" + key_path(key) + "'";
  }
  errors_->messages.push_back(msg + ": " + what);
}

Status YamlSection::finish() {
  if (dump_) return Status::Ok();
  if (node_.IsMap()) {
    std::map<std::string, int> first_line;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const std::string& key = it->first.Scalar();
      const int line = it->first.Mark().line + 1;
      // yaml-cpp keeps both entries of a key given twice, and a lookup finds the first: say so
      // rather than silently ignoring the second.
      auto [prev, fresh] = first_line.emplace(key, line);
      if (!fresh) {
        errors_->messages.push_back(file_ + ":" + std::to_string(line) + ": key '" + key_path(key) +
                                    "': given twice (first at line " +
                                    std::to_string(prev->second) + "); keep one");
        continue;
      }
      if (!seen_.count(key)) {
        std::string known;
        for (const auto& k : seen_) known += (known.empty() ? "" : ", ") + k;
        error(key, "unknown key (known here: " + known + ")");
        seen_.insert(key);  // report once
      }
    }
  }
  if (errors_->messages.empty()) return Status::Ok();
  std::string all;
  for (const auto& m : errors_->messages) all += (all.empty() ? "" : "\n") + m;
  return Status::InvalidArgument(all);
}

Status parse_yaml(const std::string& text, const std::string& file, YAML::Node& out) {
  try {
    out = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return Status::Ok();
}

std::string yaml_location(const YAML::Node& root, const std::string& file,
                          const std::string& key_path) {
  // Node::reset rebinds; operator= would write into the tree (yaml-cpp's reference semantics).
  YAML::Node node;
  node.reset(root);
  int line = root.IsDefined() ? root.Mark().line : -1;
  bool matched = false;  // the file has at least the first part of the path (else: no line)
  size_t pos = 0;
  while (pos < key_path.size() && node.IsDefined() && !node.IsNull()) {
    if (key_path[pos] == '.') ++pos;
    YAML::Node next;
    if (key_path[pos] == '[') {
      size_t close = key_path.find(']', pos);
      if (close == std::string::npos || !node.IsSequence()) break;
      size_t index = std::strtoul(key_path.substr(pos + 1, close - pos - 1).c_str(), nullptr, 10);
      if (index >= node.size()) break;
      next.reset(node[index]);
      pos = close + 1;
    } else {
      size_t end = key_path.find_first_of(".[", pos);
      std::string key =
          key_path.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      pos = end == std::string::npos ? key_path.size() : end;
      if (!node.IsMap()) break;
      int key_line = -1;
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (it->first.Scalar() == key) {
          key_line = it->first.Mark().line;
          next.reset(it->second);
          break;
        }
      }
      if (key_line < 0) break;
      line = key_line;
      matched = true;
      if (!next.IsDefined() || next.IsNull()) break;
      node.reset(next);
      continue;
    }
    if (next.Mark().line >= 0) line = next.Mark().line;
    matched = true;
    node.reset(next);
  }
  std::string loc = file;
  if (line >= 0 && matched) loc += ":" + std::to_string(line + 1);
  return loc + ": key '" + key_path + "'";
}

Status read_text_file(const std::string& path, std::string& out) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument("'" + path + "' is a folder, not a file");
  }
  if (!std::filesystem::exists(path, ec)) return Status::NotFound("no such file '" + path + "'");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return Status::Ok();
}

}  // namespace kevo
