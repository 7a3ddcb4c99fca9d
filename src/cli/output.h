#pragma once
// The one place that turns a verb's result into text: aligned tables, JSON or YAML.
//
// A verb builds a `report` (scalar fields plus named tables whose cells are JSON values) and calls
// `print_report`. Table format prints fields as `KEY  value` lines and each table with upper-case
// headers; JSON and YAML print the same data as one document:
//   - a report with one unnamed table and no fields is an array of row objects;
//   - otherwise an object with the fields and one array of row objects per table name.
// Row object keys are the column names (snake_case). Single-threaded; writes to stdout.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace sluice::cli {

using json = nlohmann::ordered_json;

enum class output_format { table, json, yaml };

struct table {
  std::string name;  // empty for the main table of a list verb
  std::vector<std::string> columns;
  std::vector<std::vector<json>> rows;
};

struct report {
  std::vector<std::pair<std::string, json>> fields;
  std::vector<table> tables;
};

// The JSON document for a report (see above).
json to_json(const report& r);

void print_report(const report& r, output_format format);

// Prints a JSON value as YAML (block style) or JSON (indented) to stdout.
void print_document(const json& doc, output_format format);

// Cell text in table format: strings bare, null as "-", everything else as JSON.
std::string cell_text(const json& v);

}  // namespace sluice::cli
