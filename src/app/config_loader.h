#pragma once
// Builds a sluice::config from defaults, a YAML file and `--set key=value` overrides.
//
// Every key is defined once, in the table in src/base/config_keys.cc (name, default, range, doc).
// Errors are one line naming the key and the problem ("num.partitions: expected an integer,
// got 'x'"); the caller prints it and exits with status 2. Nothing here throws to the caller.
//
// Thread safety: pure functions over the config passed in.

#include <string>
#include <string_view>
#include <vector>

#include <sluice/config.h>

namespace sluice::app {

// Applies one setting given as text. Returns "" or a one-line error.
std::string apply_setting(config& c, std::string_view key, std::string_view value);

// Applies a YAML file holding a flat map of key: scalar. Returns "" or a one-line error.
std::string apply_yaml_file(config& c, const std::string& path);

// Cross-key checks (e.g. min <= max) after everything is applied. Returns "" or an error.
std::string validate(const config& c);

// Every key with its default and documentation, as YAML comments (what config/sluice.yaml holds).
std::string describe_defaults();

// Names of every known key, in table order.
std::vector<std::string> key_names();

}  // namespace sluice::app
