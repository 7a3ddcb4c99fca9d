// sluice cluster info|config get|config set, and sluice offsets <topic> (watermarks).
// Broker configs use DescribeConfigs/AlterConfigs on the BROKER resource (default: the
// controller); offsets use ListOffsets for the earliest and latest offsets.

#include <map>
#include <memory>
#include <set>

#include "src/cli/commands.h"

namespace sluice::cli {

namespace {

outcome<void> cluster_info(const context& ctx) {
  CLI_TRY(s, open_session(ctx));
  report r;
  r.fields = {{"cluster_id", s.md.cluster_id.empty() ? json() : json(s.md.cluster_id)},
              {"controller_id", s.md.controller_id},
              {"brokers", s.md.brokers.size()},
              {"topics", s.md.topics.size()}};
  table brokers{"broker_list", {"id", "host", "port", "controller"}, {}};
  for (const auto& b : s.md.brokers) {
    brokers.rows.push_back({b.id, b.host, b.port, b.id == s.md.controller_id});
  }
  r.tables.push_back(std::move(brokers));
  print_report(r, ctx.format);
  return boost::outcome_v2::success();
}

// The broker whose configs to read or change: --broker, else the controller, else the first.
outcome<std::string> broker_id(const session& s, int32_t requested) {
  if (requested >= 0) {
    for (const auto& b : s.md.brokers) {
      if (b.id == requested) return std::to_string(requested);
    }
    return fail("BROKER_NOT_AVAILABLE: no broker with id " + std::to_string(requested));
  }
  if (s.md.controller_id >= 0) return std::to_string(s.md.controller_id);
  if (s.md.brokers.empty()) return fail("BROKER_NOT_AVAILABLE: metadata lists no brokers");
  return std::to_string(s.md.brokers.front().id);
}

struct config_get_args {
  std::vector<std::string> names;
  int32_t broker = -1;
};

outcome<void> config_get(const context& ctx, const config_get_args& a) {
  CLI_TRY(s, open_session(ctx));
  CLI_TRY(id, broker_id(s, a.broker));
  CLI_TRY(entries, describe_configs(s.rk.get(), ctx.opt, RD_KAFKA_RESOURCE_BROKER, id));
  std::set<std::string> wanted(a.names.begin(), a.names.end());
  table t{"", {"name", "value", "source", "read_only"}, {}};
  std::set<std::string> missing = wanted;
  for (const auto& e : entries) {
    if (!wanted.empty() && !wanted.contains(e.name)) continue;
    missing.erase(e.name);
    t.rows.push_back({e.name, e.value ? json(*e.value) : json(), e.source, e.read_only});
  }
  if (!missing.empty()) {
    return fail("INVALID_CONFIG: broker " + id + " has no config '" + *missing.begin() + "'");
  }
  print_report({{}, {t}}, ctx.format);
  return boost::outcome_v2::success();
}

struct config_set_args {
  std::vector<std::string> assignments;
  int32_t broker = -1;
};

// Non-incremental AlterConfigs (all librdkafka 2.0.2 has): keeps the broker's other dynamic
// configs by sending them back with the change.
outcome<void> config_set(const context& ctx, const config_set_args& a) {
  CLI_TRY(s, open_session(ctx));
  CLI_TRY(id, broker_id(s, a.broker));
  CLI_TRY(entries, describe_configs(s.rk.get(), ctx.opt, RD_KAFKA_RESOURCE_BROKER, id));
  std::map<std::string, std::string> values;
  for (const auto& e : entries) {
    if (e.source != "DYNAMIC_BROKER_CONFIG") continue;
    if (!e.value) return fail("cannot keep sensitive broker config " + e.name);
    values[e.name] = *e.value;
  }
  table t{"", {"name", "value"}, {}};
  for (const auto& kv : a.assignments) {
    CLI_TRY(p, split_assignment(kv, "config set"));
    values[p.first] = p.second;
    t.rows.push_back({p.first, p.second});
  }
  CLI_TRY(alter_configs(s.rk.get(), ctx.opt, RD_KAFKA_RESOURCE_BROKER, id, values));
  print_report({{}, {t}}, ctx.format);
  return boost::outcome_v2::success();
}

outcome<void> offsets(const context& ctx, const std::string& name) {
  CLI_TRY(s, open_session(ctx));
  CLI_TRY(topic, require_topic(s.md, name));
  CLI_TRY(marks, watermarks(s.rk.get(), ctx.opt, *topic));
  table t{"", {"partition", "log_start_offset", "high_watermark", "messages"}, {}};
  for (const auto& [p, m] : marks) t.rows.push_back({p, m.low, m.high, m.high - m.low});
  print_report({{}, {t}}, ctx.format);
  return boost::outcome_v2::success();
}

}  // namespace

void add_cluster_commands(CLI::App& app, context& ctx) {
  auto* cluster = app.add_subcommand("cluster", "Cluster metadata and broker configs");
  cluster->require_subcommand(1);
  auto* info = cluster->add_subcommand("info", "Show the cluster id, controller and brokers");
  examples(info, {"sluice cluster info", "sluice cluster info --format yaml"});
  ctx.on(info, [&ctx] { return cluster_info(ctx); });

  auto* config = cluster->add_subcommand("config", "Read or change broker configs");
  config->require_subcommand(1);
  auto ga = std::make_shared<config_get_args>();
  auto* get = config->add_subcommand("get", "Show broker configs (all, or the named ones)");
  get->add_option("names", ga->names, "Config names");
  get->add_option("-b,--broker", ga->broker, "Broker id (default: the controller)");
  examples(get, {"sluice cluster config get", "sluice cluster config get log.retention.ms"});
  ctx.on(get, [&ctx, ga] { return config_get(ctx, *ga); });

  auto sa = std::make_shared<config_set_args>();
  auto* set = config->add_subcommand("set", "Set broker configs dynamically");
  set->add_option("assignments", sa->assignments, "key=value pairs")->required();
  set->add_option("-b,--broker", sa->broker, "Broker id (default: the controller)");
  examples(set, {"sluice cluster config set log.retention.ms=86400000"});
  ctx.on(set, [&ctx, sa] { return config_set(ctx, *sa); });
}

void add_offsets_command(CLI::App& app, context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("offsets", "Show a topic's watermarks per partition");
  cmd->add_option("topic", *name, "Topic name")->required();
  examples(cmd, {"sluice offsets orders", "sluice offsets orders --format json"});
  ctx.on(cmd, [&ctx, name] { return offsets(ctx, *name); });
}

}  // namespace sluice::cli
