#include "src/app/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <climits>
#include <fstream>
#include <functional>
#include <sstream>
#include <variant>

#include "src/base/config_keys.h"

namespace sluice::app {

std::string apply_setting(config& c, std::string_view key, std::string_view value) {
  return apply_config_setting(c, key, value);
}

std::string apply_yaml_file(config& c, const std::string& path) {
  std::ifstream in(path);
  if (!in) return "cannot read config file '" + path + "'";
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::Exception& e) {
    return path + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg;
  }
  if (root.IsNull()) return {};  // an empty file (all comments) is a valid config
  if (!root.IsMap()) return path + ": expected a map of key: value";
  for (const auto& kv : root) {
    std::string key = kv.first.Scalar();
    if (!kv.second.IsScalar() && !kv.second.IsNull()) {
      return path + ":" + std::to_string(kv.second.Mark().line + 1) + ": " + key +
             ": expected a single value";
    }
    std::string err = apply_setting(c, key, kv.second.IsNull() ? "" : kv.second.Scalar());
    if (!err.empty()) return path + ":" + std::to_string(kv.first.Mark().line + 1) + ": " + err;
  }
  return {};
}

std::string validate(const config& c) {
  if (c.group_min_session_timeout_ms > c.group_max_session_timeout_ms) {
    return "group.min.session.timeout.ms (" + std::to_string(c.group_min_session_timeout_ms) +
           ") is greater than group.max.session.timeout.ms (" +
           std::to_string(c.group_max_session_timeout_ms) + ")";
  }
  if (c.data_dir.empty()) return "log.dir: must not be empty";
  return {};
}

std::string describe_defaults() {
  std::ostringstream out;
  for (const auto& k : config_settings()) {
    out << "# " << k.doc << "\n";
    if (!k.choices.empty()) {
      out << "# One of:";
      for (auto ch : k.choices) out << " " << ch;
      out << "\n";
    }
    auto dflt = config_setting_default(k.name);
    out << "# " << k.name << ": " << (dflt.empty() ? "\"\"" : dflt) << "\n\n";
  }
  return out.str();
}

std::vector<std::string> key_names() {
  std::vector<std::string> names;
  for (const auto& k : config_settings()) names.emplace_back(k.name);
  return names;
}

}  // namespace sluice::app
