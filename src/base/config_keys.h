#pragma once
// The broker settings table: every key of sluice::config with its Kafka name, type, range,
// default and documentation, and how a key is read from and written to a config as text.
//
// The config loader (src/app) applies YAML files and --set flags through apply_config_setting;
// the broker (DescribeConfigs) lists the keys and renders their current values. Keeping the
// table here lets both use it without the broker depending on src/app.
//
// Thread safety: pure functions over an immutable table; call from any thread.

#include <string>
#include <string_view>
#include <vector>

#include <sluice/config.h>

namespace sluice {

enum class setting_type { boolean, int32, int64, string, list };

struct setting_info {
  std::string_view name;
  setting_type type;
  std::string_view doc;
  std::vector<std::string_view> choices;  // strings only; empty = any
};

// Every key, in table order.
const std::vector<setting_info>& config_settings();
const setting_info* find_config_setting(std::string_view name);

// Applies one setting given as text. Returns "" or a one-line error naming the key.
std::string apply_config_setting(config& c, std::string_view key, std::string_view value);

// The key's value in `c` as text ("" for an empty string); "" for an unknown key.
std::string config_setting_value(const config& c, std::string_view key);

// The key's value in a default-constructed config, as config_setting_value renders it.
std::string config_setting_default(std::string_view key);

}  // namespace sluice
