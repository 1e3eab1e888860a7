#include "common/yaml_config.h"

#include <fstream>
#include <sstream>

namespace kevo {

YamlSection::YamlSection(YAML::Node node, std::string file, std::string path)
    : YamlSection(std::move(node), std::move(file), std::move(path), std::make_shared<Errors>()) {}

YamlSection::YamlSection(YAML::Node node, std::string file, std::string path,
                         std::shared_ptr<Errors> errors)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)), errors_(std::move(errors)) {}

std::string YamlSection::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

std::string YamlSection::where(const std::string& key) const {
  int line = -1;
  if (node_.IsMap()) {
    // The key's own node gives the best line; fall back to the section's.
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (it->first.Scalar() == key) line = it->first.Mark().line;
    }
  }
  if (line < 0) line = node_.Mark().line;
  std::string loc = file_;
  if (line >= 0) loc += ":" + std::to_string(line + 1);
  return loc + ": key '" + key_path(key) + "'";
}

void YamlSection::error(const std::string& key, const std::string& what) {
  // Strip an index suffix such as "bins[2]" to find the key's line.
  std::string base = key.substr(0, key.find_first_of("[."));
  std::string msg = where(base);
  if (base != key) msg += " (" + key + ")";
  errors_->messages.push_back(msg + ": " + what);
}

Status YamlSection::finish() {
  if (node_.IsMap()) {
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const std::string& key = it->first.Scalar();
      if (!seen_.count(key)) {
        std::string known;
        for (const auto& k : seen_) known += (known.empty() ? "" : ", ") + k;
        error(key, "unknown key (known here: " + known + ")");
        seen_.insert(key);  // report once
      }
    }
  }
  if (errors_->messages.empty()) return Status::Ok();
  return Status::InvalidArgument(errors_->messages.front());
}

Status parse_yaml(const std::string& text, const std::string& file, YAML::Node& out) {
  try {
    out = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return Status::Ok();
}

Status read_text_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return Status::Ok();
}

}  // namespace kevo
