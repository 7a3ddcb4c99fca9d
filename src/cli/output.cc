#include "src/cli/output.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace sluice::cli {

namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  std::replace(s.begin(), s.end(), '_', '-');
  return s;
}

json rows_json(const table& t) {
  json rows = json::array();
  for (const auto& row : t.rows) {
    json obj = json::object();
    for (size_t i = 0; i < t.columns.size() && i < row.size(); ++i) obj[t.columns[i]] = row[i];
    rows.push_back(std::move(obj));
  }
  return rows;
}

void emit_yaml(YAML::Emitter& out, const json& v) {
  if (v.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, item] : v.items()) {
      out << YAML::Key << k << YAML::Value;
      emit_yaml(out, item);
    }
    out << YAML::EndMap;
  } else if (v.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& item : v) emit_yaml(out, item);
    out << YAML::EndSeq;
  } else if (v.is_null()) {
    out << YAML::Null;
  } else if (v.is_string()) {
    // Quote strings that YAML would otherwise read as another type ("true", "10", "").
    const auto& s = v.get_ref<const std::string&>();
    out << YAML::DoubleQuoted << s;
  } else {
    out << v.dump();
  }
}

void print_table(const table& t) {
  std::vector<size_t> widths(t.columns.size());
  std::vector<std::vector<std::string>> text;
  for (size_t i = 0; i < t.columns.size(); ++i) widths[i] = t.columns[i].size();
  for (const auto& row : t.rows) {
    auto& line = text.emplace_back();
    for (size_t i = 0; i < t.columns.size(); ++i) {
      line.push_back(i < row.size() ? cell_text(row[i]) : "");
      widths[i] = std::max(widths[i], line.back().size());
    }
  }
  auto print_line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out.append(widths[i] - cells[i].size() + 2, ' ');
    }
    std::printf("%s\n", out.c_str());
  };
  std::vector<std::string> header;
  for (const auto& c : t.columns) header.push_back(upper(c));
  print_line(header);
  for (const auto& line : text) print_line(line);
}

}  // namespace

std::string cell_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  if (v.is_array()) {
    std::string s;
    for (const auto& item : v) s += (s.empty() ? "" : ",") + cell_text(item);
    return s;
  }
  return v.dump();
}

json to_json(const report& r) {
  if (r.fields.empty() && r.tables.size() == 1 && r.tables[0].name.empty()) {
    return rows_json(r.tables[0]);
  }
  json doc = json::object();
  for (const auto& [k, v] : r.fields) doc[k] = v;
  for (const auto& t : r.tables) doc[t.name.empty() ? "items" : t.name] = rows_json(t);
  return doc;
}

void print_document(const json& doc, output_format format) {
  if (format == output_format::yaml) {
    YAML::Emitter out;
    emit_yaml(out, doc);
    std::printf("%s\n", out.c_str());
  } else {
    std::printf("%s\n", doc.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  }
}

void print_report(const report& r, output_format format) {
  if (format != output_format::table) {
    print_document(to_json(r), format);
    return;
  }
  size_t key_width = 0;
  for (const auto& [k, v] : r.fields) key_width = std::max(key_width, k.size());
  for (const auto& [k, v] : r.fields) {
    auto key = upper(k);
    std::printf("%s%*s  %s\n", key.c_str(), static_cast<int>(key_width - key.size()), "",
                cell_text(v).c_str());
  }
  bool first = r.fields.empty();
  for (const auto& t : r.tables) {
    if (!first) std::printf("\n");
    first = false;
    if (!t.name.empty() && (r.tables.size() > 1 || !r.fields.empty())) {
      std::printf("%s\n", upper(t.name).c_str());
    }
    print_table(t);
  }
}

}  // namespace sluice::cli
