// sluice topic create|list|describe|alter-config|add-partitions|delete: topic administration with
// librdkafka's C admin API (CreateTopics, DeleteTopics, CreatePartitions, Describe/AlterConfigs).

#include <map>
#include <memory>
#include <set>

#include "src/cli/commands.h"
#include "src/cli/raw_request.h"

namespace sluice::cli {

namespace {

struct create_args {
  std::vector<std::string> topics;
  int partitions = -1;
  int replicas = -1;
  std::vector<std::string> configs;
};

struct topics_result {
  const rd_kafka_topic_result_t** results = nullptr;
  size_t count = 0;
};

// One row per topic: NAME, ERROR (null when it worked). Fails on the first error after printing.
outcome<void> report_topic_results(const context& ctx, const topics_result& r, const char* what) {
  table t{"", {"topic", "result"}, {}};
  std::optional<failure> first;
  for (size_t i = 0; i < r.count; ++i) {
    const char* name = rd_kafka_topic_result_name(r.results[i]);
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(r.results[i]);
    if (e) {
      const char* s = rd_kafka_topic_result_error_string(r.results[i]);
      auto f = kafka_failure(e, s && *s ? std::string(s) : "topic '" + std::string(name) + "'");
      t.rows.push_back({name, f.message});
      if (!first) first = f;
    } else {
      t.rows.push_back({name, what});
    }
  }
  print_report({{}, {t}}, ctx.format);
  if (first) return *first;
  return boost::outcome_v2::success();
}

outcome<void> topic_create(const context& ctx, const create_args& a) {
  CLI_TRY(s, open_session(ctx));
  std::vector<rd_kafka_NewTopic_t*> topics;
  auto cleanup = [&] { rd_kafka_NewTopic_destroy_array(topics.data(), topics.size()); };
  char err[512];
  for (const auto& name : a.topics) {
    rd_kafka_NewTopic_t* t =
        rd_kafka_NewTopic_new(name.c_str(), a.partitions, a.replicas, err, sizeof err);
    if (!t) {
      cleanup();
      return fail(std::string("INVALID_REQUEST: ") + err);
    }
    topics.push_back(t);
    for (const auto& c : a.configs) {
      auto kv = split_assignment(c, "--config");
      if (!kv) {
        cleanup();
        return kv.error();
      }
      rd_kafka_NewTopic_set_config(t, kv.value().first.c_str(), kv.value().second.c_str());
    }
  }
  auto ev = admin_call(s.rk.get(), ctx.opt, RD_KAFKA_ADMIN_OP_CREATETOPICS,
                       [&](rd_kafka_AdminOptions_t* ao, rd_kafka_queue_t* q) {
                         rd_kafka_CreateTopics(s.rk.get(), topics.data(), topics.size(), ao, q);
                       });
  cleanup();
  if (!ev) return ev.error();
  topics_result r;
  r.results = rd_kafka_CreateTopics_result_topics(
      rd_kafka_event_CreateTopics_result(ev.value().get()), &r.count);
  return report_topic_results(ctx, r, "created");
}

outcome<void> topic_delete(const context& ctx, const std::vector<std::string>& names) {
  CLI_TRY(s, open_session(ctx));
  std::vector<rd_kafka_DeleteTopic_t*> topics;
  for (const auto& n : names) topics.push_back(rd_kafka_DeleteTopic_new(n.c_str()));
  auto ev = admin_call(s.rk.get(), ctx.opt, RD_KAFKA_ADMIN_OP_DELETETOPICS,
                       [&](rd_kafka_AdminOptions_t* ao, rd_kafka_queue_t* q) {
                         rd_kafka_DeleteTopics(s.rk.get(), topics.data(), topics.size(), ao, q);
                       });
  rd_kafka_DeleteTopic_destroy_array(topics.data(), topics.size());
  if (!ev) return ev.error();
  topics_result r;
  r.results = rd_kafka_DeleteTopics_result_topics(
      rd_kafka_event_DeleteTopics_result(ev.value().get()), &r.count);
  return report_topic_results(ctx, r, "deleted");
}

outcome<void> topic_list(const context& ctx, bool internal) {
  CLI_TRY(s, open_session(ctx));
  table t{"", {"name", "partitions", "replicas"}, {}};
  for (const auto& topic : s.md.topics) {
    if (!internal && topic.name.starts_with("__")) continue;
    size_t replicas = topic.partitions.empty() ? 0 : topic.partitions[0].replicas.size();
    t.rows.push_back({topic.name, topic.partitions.size(), replicas});
  }
  print_report({{}, {t}}, ctx.format);
  return boost::outcome_v2::success();
}

table config_table(const std::vector<config_entry>& entries, bool all) {
  table t{"configs", {"name", "value", "source"}, {}};
  for (const auto& e : entries) {
    if (!all && e.is_default) continue;
    t.rows.push_back({e.name, e.value ? json(*e.value) : json(nullptr), e.source});
  }
  return t;
}

outcome<void> topic_describe(const context& ctx, const std::string& name, bool all_configs) {
  CLI_TRY(s, open_session(ctx));
  CLI_TRY(topic, require_topic(s.md, name));
  CLI_TRY(marks, watermarks(s.rk.get(), ctx.opt, *topic));
  CLI_TRY(configs, describe_configs(s.rk.get(), ctx.opt, RD_KAFKA_RESOURCE_TOPIC, name));
  // Sizes from the partitions' leaders (DescribeLogDirs on a connection of our own).
  CLI_TRY(sizes, partition_sizes(s.md, *topic, ctx.opt.timeout));
  int64_t total = 0;
  for (const auto& [p, n] : sizes) total += n;
  report r;
  r.fields = {
      {"name", topic->name},
      {"partition_count", topic->partitions.size()},
      {"replication_factor", topic->partitions.empty() ? 0 : topic->partitions[0].replicas.size()},
      {"size_bytes", total}};
  table parts{"partitions",
              {"partition", "leader", "replicas", "isr", "log_start_offset", "high_watermark",
               "messages", "size_bytes"},
              {}};
  for (const auto& p : topic->partitions) {
    auto m = marks[p.id];
    auto size = sizes.find(p.id);
    parts.rows.push_back({p.id, p.leader, p.replicas, p.isr, m.low, m.high, m.high - m.low,
                          size == sizes.end() ? json() : json(size->second)});
  }
  r.tables.push_back(std::move(parts));
  r.tables.push_back(config_table(configs, all_configs));
  print_report(r, ctx.format);
  return boost::outcome_v2::success();
}

struct alter_args {
  std::string topic;
  std::vector<std::string> set;
  std::vector<std::string> remove;
};

// librdkafka 2.0.2 only has the non-incremental AlterConfigs, which replaces the topic's whole set
// of dynamic configs: read them, apply the change, write the full set back.
outcome<void> topic_alter_config(const context& ctx, const alter_args& a) {
  if (a.set.empty() && a.remove.empty()) return fail("nothing to change: give --set or --delete");
  CLI_TRY(s, open_session(ctx));
  CLI_TRY(require_topic(s.md, a.topic));
  CLI_TRY(current, describe_configs(s.rk.get(), ctx.opt, RD_KAFKA_RESOURCE_TOPIC, a.topic));
  std::map<std::string, std::string> values;
  std::set<std::string> known;
  for (const auto& e : current) {
    known.insert(e.name);
    if (e.source != "DYNAMIC_TOPIC_CONFIG") continue;
    if (!e.value) return fail("cannot keep sensitive config " + e.name + " (value not readable)");
    values[e.name] = *e.value;
  }
  for (const auto& kv : a.set) {
    CLI_TRY(p, split_assignment(kv, "--set"));
    values[p.first] = p.second;
  }
  for (const auto& k : a.remove) {
    if (!known.contains(k)) return fail("INVALID_CONFIG: unknown topic config '" + k + "'");
    values.erase(k);
  }
  CLI_TRY(alter_configs(s.rk.get(), ctx.opt, RD_KAFKA_RESOURCE_TOPIC, a.topic, values));
  CLI_TRY(after, describe_configs(s.rk.get(), ctx.opt, RD_KAFKA_RESOURCE_TOPIC, a.topic));
  table t = config_table(after, false);
  t.name.clear();  // the only table: a plain list in JSON
  print_report({{}, {t}}, ctx.format);
  return boost::outcome_v2::success();
}

outcome<void> topic_add_partitions(const context& ctx, const std::string& name, int add,
                                   int total) {
  CLI_TRY(s, open_session(ctx));
  CLI_TRY(topic, require_topic(s.md, name));
  if (add <= 0 && total <= 0) return fail("give --num (partitions to add) or --total");
  const int current = static_cast<int>(topic->partitions.size());
  const int target = total > 0 ? total : current + add;
  if (target <= current) {
    return fail("INVALID_PARTITIONS: topic '" + name + "' has " + std::to_string(current) +
                " partitions; the new count must be larger");
  }
  char err[512];
  rd_kafka_NewPartitions_t* np = rd_kafka_NewPartitions_new(name.c_str(), target, err, sizeof err);
  if (!np) return fail(std::string("INVALID_PARTITIONS: ") + err);
  auto ev = admin_call(s.rk.get(), ctx.opt, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS,
                       [&](rd_kafka_AdminOptions_t* ao, rd_kafka_queue_t* q) {
                         rd_kafka_CreatePartitions(s.rk.get(), &np, 1, ao, q);
                       });
  rd_kafka_NewPartitions_destroy(np);
  if (!ev) return ev.error();
  topics_result r;
  r.results = rd_kafka_CreatePartitions_result_topics(
      rd_kafka_event_CreatePartitions_result(ev.value().get()), &r.count);
  for (size_t i = 0; i < r.count; ++i) {
    if (rd_kafka_resp_err_t e = rd_kafka_topic_result_error(r.results[i])) {
      const char* m = rd_kafka_topic_result_error_string(r.results[i]);
      return kafka_failure(e, m && *m ? m : "topic '" + name + "'");
    }
  }
  print_report({{{"topic", name}, {"partitions_before", current}, {"partitions", target}}, {}},
               ctx.format);
  return boost::outcome_v2::success();
}

}  // namespace

void add_topic_admin_commands(CLI::App& topic, context& ctx) {
  auto ca = std::make_shared<create_args>();
  auto* create = topic.add_subcommand("create", "Create topics");
  create->add_option("topics", ca->topics, "Topic names")->required();
  create->add_option("-p,--partitions", ca->partitions, "Partitions (default: broker's default)");
  create->add_option("-r,--replicas", ca->replicas,
                     "Replication factor (default: broker's default)");
  create->add_option("-c,--config", ca->configs, "Topic config key=value (repeatable)");
  examples(create, {"sluice topic create orders -p 6",
                    "sluice topic create audit -c cleanup.policy=compact -c retention.ms=-1"});
  ctx.on(create, [&ctx, ca] { return topic_create(ctx, *ca); });

  auto internal = std::make_shared<bool>(false);
  auto* list = topic.add_subcommand("list", "List topics");
  list->alias("ls");
  list->add_flag("-i,--internal", *internal, "Include internal topics (__consumer_offsets, ...)");
  examples(list, {"sluice topic list", "sluice topic list --format json"});
  ctx.on(list, [&ctx, internal] { return topic_list(ctx, *internal); });

  auto dname = std::make_shared<std::string>();
  auto dall = std::make_shared<bool>(false);
  auto* describe = topic.add_subcommand(
      "describe", "Show a topic's partitions (leaders, offsets, message counts) and configs");
  describe->add_option("topic", *dname, "Topic name")->required();
  describe->add_flag("-a,--all-configs", *dall, "Include configs at their defaults");
  examples(describe,
           {"sluice topic describe orders", "sluice topic describe orders -a --format json"});
  ctx.on(describe, [&ctx, dname, dall] { return topic_describe(ctx, *dname, *dall); });

  auto aa = std::make_shared<alter_args>();
  auto* alter = topic.add_subcommand("alter-config", "Set or remove topic configs");
  alter->add_option("topic", aa->topic, "Topic name")->required();
  alter->add_option("-s,--set", aa->set, "key=value to set (repeatable)");
  alter->add_option("-d,--delete", aa->remove, "Config to reset to its default (repeatable)");
  examples(alter, {"sluice topic alter-config orders --set retention.ms=86400000",
                   "sluice topic alter-config orders --delete retention.ms"});
  ctx.on(alter, [&ctx, aa] { return topic_alter_config(ctx, *aa); });

  auto pname = std::make_shared<std::string>();
  auto padd = std::make_shared<int>(0);
  auto ptotal = std::make_shared<int>(0);
  auto* addp = topic.add_subcommand("add-partitions", "Add partitions to a topic");
  addp->add_option("topic", *pname, "Topic name")->required();
  auto* num = addp->add_option("-n,--num", *padd, "Partitions to add")->check(CLI::PositiveNumber);
  auto* tot = addp->add_option("-t,--total", *ptotal, "New total partition count")
                  ->check(CLI::PositiveNumber);
  num->excludes(tot);
  examples(addp, {"sluice topic add-partitions orders -n 2",
                  "sluice topic add-partitions orders --total 12"});
  ctx.on(addp,
         [&ctx, pname, padd, ptotal] { return topic_add_partitions(ctx, *pname, *padd, *ptotal); });

  auto dnames = std::make_shared<std::vector<std::string>>();
  auto* del = topic.add_subcommand("delete", "Delete topics");
  del->alias("rm");
  del->add_option("topics", *dnames, "Topic names")->required();
  examples(del, {"sluice topic delete orders audit"});
  ctx.on(del, [&ctx, dnames] { return topic_delete(ctx, *dnames); });
}

}  // namespace sluice::cli
