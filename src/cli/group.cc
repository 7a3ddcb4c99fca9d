// sluice group list|describe|seek|delete: consumer groups through librdkafka's C admin API
// (ListConsumerGroups, DescribeConsumerGroups, List/AlterConsumerGroupOffsets, DeleteGroups).
// Lag is the partition's high watermark minus the group's committed offset.

#include <map>
#include <memory>
#include <set>

#include "kafka/consumer_group_describe.h"
#include "src/cli/commands.h"
#include "src/cli/raw_request.h"
#include "src/cli/util.h"

namespace sluice::cli {

namespace {

failure error_failure(const rd_kafka_error_t* e, const std::string& what) {
  return kafka_failure(rd_kafka_error_code(e), what + ": " + rd_kafka_error_string(e));
}

// group_result (from List/AlterConsumerGroupOffsets and DeleteGroups) -> its error, if any.
outcome<void> check_group_result(const rd_kafka_group_result_t* r) {
  const std::string name = rd_kafka_group_result_name(r);
  if (const rd_kafka_error_t* e = rd_kafka_group_result_error(r)) {
    return error_failure(e, "group '" + name + "'");
  }
  if (const auto* parts = rd_kafka_group_result_partitions(r)) {
    for (int i = 0; i < parts->cnt; ++i) {
      if (parts->elems[i].err) {
        return kafka_failure(parts->elems[i].err, "group '" + name + "' " + parts->elems[i].topic +
                                                      "/" +
                                                      std::to_string(parts->elems[i].partition));
      }
    }
  }
  return boost::outcome_v2::success();
}

struct group_description {
  std::string state;
  std::string assignor;
  std::string coordinator;
  struct member {
    std::string id, client_id, host, instance_id;
    std::vector<std::pair<std::string, int32_t>> partitions;
  };
  std::vector<member> members;
};

outcome<group_description> describe_group(rd_kafka_t* rk, const options& opt,
                                          const std::string& group) {
  const char* groups[] = {group.c_str()};
  CLI_TRY(ev, admin_call(rk, opt, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS,
                         [&](rd_kafka_AdminOptions_t* ao, rd_kafka_queue_t* q) {
                           rd_kafka_DescribeConsumerGroups(rk, groups, 1, ao, q);
                         }));
  size_t n = 0;
  const auto** descs = rd_kafka_DescribeConsumerGroups_result_groups(
      rd_kafka_event_DescribeConsumerGroups_result(ev.get()), &n);
  if (n != 1) return fail("DescribeConsumerGroups returned " + std::to_string(n) + " groups");
  const auto* d = descs[0];
  if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(d)) {
    return error_failure(e, "group '" + group + "'");
  }
  group_description out;
  out.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d));
  if (const char* a = rd_kafka_ConsumerGroupDescription_partition_assignor(d)) out.assignor = a;
  if (const rd_kafka_Node_t* c = rd_kafka_ConsumerGroupDescription_coordinator(d)) {
    out.coordinator = std::to_string(rd_kafka_Node_id(c));
  }
  for (size_t i = 0; i < rd_kafka_ConsumerGroupDescription_member_count(d); ++i) {
    const auto* m = rd_kafka_ConsumerGroupDescription_member(d, i);
    group_description::member mem;
    mem.id = rd_kafka_MemberDescription_consumer_id(m);
    mem.client_id = rd_kafka_MemberDescription_client_id(m);
    mem.host = rd_kafka_MemberDescription_host(m);
    if (const char* gi = rd_kafka_MemberDescription_group_instance_id(m)) mem.instance_id = gi;
    if (const auto* as = rd_kafka_MemberDescription_assignment(m)) {
      if (const auto* parts = rd_kafka_MemberAssignment_partitions(as)) {
        for (int k = 0; k < parts->cnt; ++k) {
          mem.partitions.emplace_back(parts->elems[k].topic, parts->elems[k].partition);
        }
      }
    }
    out.members.push_back(std::move(mem));
  }
  return out;
}

// A KIP-848 ("consumer" protocol) group: DescribeGroups, all librdkafka 2.0.2 can send, reports
// it Dead, as Kafka does; ConsumerGroupDescribe (sent to the coordinator ourselves) has its
// members and their current assignments. nullopt when the broker knows no such consumer group
// or does not serve the API (then the classic answer stands).
std::optional<group_description> describe_consumer_group(const session& s, const options& opt,
                                                         const std::string& group,
                                                         const std::string& coordinator) {
  const broker_info* b = nullptr;
  for (const auto& x : s.md.brokers) {
    if (std::to_string(x.id) == coordinator || (b == nullptr && coordinator.empty())) b = &x;
  }
  if (b == nullptr) return std::nullopt;
  kafka::consumer_group_describe_request req;
  req.group_ids = {group};
  auto resp =
      raw_call<kafka::consumer_group_describe_request, kafka::consumer_group_describe_response>(
          *b, req, 0, opt.timeout);
  if (!resp || resp.value().groups.size() != 1) return std::nullopt;
  const auto& g = resp.value().groups.front();
  if (g.error_code != 0) return std::nullopt;
  group_description out;
  out.state = g.group_state;
  out.assignor = g.assignor_name;
  out.coordinator = std::to_string(b->id);
  for (const auto& m : g.members) {
    group_description::member mem{
        m.member_id, m.client_id, m.client_host, m.instance_id.value_or(""), {}};
    for (const auto& tp : m.assignment.topic_partitions) {
      for (int32_t p : tp.partitions) mem.partitions.emplace_back(tp.topic_name, p);
    }
    out.members.push_back(std::move(mem));
  }
  return out;
}

// Committed offsets of a group: (topic, partition) -> offset.
using offset_map = std::map<std::pair<std::string, int32_t>, int64_t>;

outcome<offset_map> committed_offsets(rd_kafka_t* rk, const options& opt,
                                      const std::string& group) {
  rd_kafka_ListConsumerGroupOffsets_t* req =
      rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), nullptr);  // all partitions
  auto ev = admin_call(rk, opt, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
                       [&](rd_kafka_AdminOptions_t* ao, rd_kafka_queue_t* q) {
                         rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, ao, q);
                       });
  rd_kafka_ListConsumerGroupOffsets_destroy(req);
  if (!ev) return ev.error();
  size_t n = 0;
  const auto** rs = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(ev.value().get()), &n);
  offset_map out;
  for (size_t i = 0; i < n; ++i) {
    CLI_TRY(check_group_result(rs[i]));
    if (const auto* parts = rd_kafka_group_result_partitions(rs[i])) {
      for (int k = 0; k < parts->cnt; ++k) {
        if (parts->elems[k].offset >= 0) {
          out[{parts->elems[k].topic, parts->elems[k].partition}] = parts->elems[k].offset;
        }
      }
    }
  }
  return out;
}

outcome<void> group_list(const context& ctx) {
  CLI_TRY(s, open_session(ctx));
  CLI_TRY(ev, admin_call(s.rk.get(), ctx.opt, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS,
                         [&](rd_kafka_AdminOptions_t* ao, rd_kafka_queue_t* q) {
                           rd_kafka_ListConsumerGroups(s.rk.get(), ao, q);
                         }));
  const auto* res = rd_kafka_event_ListConsumerGroups_result(ev.get());
  size_t nerr = 0;
  const rd_kafka_error_t** errs = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
  if (nerr > 0) return error_failure(errs[0], "listing groups");
  size_t n = 0;
  const auto** groups = rd_kafka_ListConsumerGroups_result_valid(res, &n);
  table t{"", {"group", "state", "simple"}, {}};
  for (size_t i = 0; i < n; ++i) {
    t.rows.push_back(
        {rd_kafka_ConsumerGroupListing_group_id(groups[i]),
         rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(groups[i])),
         static_cast<bool>(rd_kafka_ConsumerGroupListing_is_simple_consumer_group(groups[i]))});
  }
  std::sort(t.rows.begin(), t.rows.end(), [](const auto& a, const auto& b) {
    return a[0].template get<std::string>() < b[0].template get<std::string>();
  });
  print_report({{}, {t}}, ctx.format);
  return boost::outcome_v2::success();
}

outcome<void> group_describe(const context& ctx, const std::string& group) {
  CLI_TRY(s, open_session(ctx));
  CLI_TRY(desc, describe_group(s.rk.get(), ctx.opt, group));
  if (desc.state == "Dead") {
    if (auto kip848 = describe_consumer_group(s, ctx.opt, group, desc.coordinator)) {
      desc = std::move(*kip848);
    }
  }
  CLI_TRY(committed, committed_offsets(s.rk.get(), ctx.opt, group));
  // Every partition of a topic the group committed to or is assigned gets a lag row, as
  // kafka-consumer-groups shows them: a partition nobody committed yet lags by its whole log.
  std::map<std::pair<std::string, int32_t>, std::string> owner;
  for (const auto& m : desc.members) {
    for (const auto& tp : m.partitions) owner[tp] = m.id;
  }
  std::set<std::string> topics;
  for (const auto& [tp, off] : committed) topics.insert(tp.first);
  for (const auto& [tp, id] : owner) topics.insert(tp.first);
  std::map<std::pair<std::string, int32_t>, int64_t> ends;
  for (const auto& name : topics) {
    const topic_info* t = s.md.find(name);
    if (!t || t->err) continue;  // deleted since the offsets were committed
    CLI_TRY(high, list_offsets(s.rk.get(), ctx.opt, *t, RD_KAFKA_OFFSET_END));
    for (const auto& [p, off] : high) ends[{name, p}] = off;
  }
  std::set<std::pair<std::string, int32_t>> rows;
  for (const auto& [tp, off] : ends) rows.insert(tp);
  for (const auto& [tp, off] : committed) rows.insert(tp);
  for (const auto& [tp, id] : owner) rows.insert(tp);

  report r;
  r.fields = {{"group", group},
              {"state", desc.state},
              {"assignor", desc.assignor},
              {"coordinator", desc.coordinator},
              {"member_count", desc.members.size()}};
  table members{"members", {"member_id", "client_id", "host", "partitions"}, {}};
  for (const auto& m : desc.members) {
    json parts = json::array();
    for (const auto& [t, p] : m.partitions) parts.push_back(t + "/" + std::to_string(p));
    members.rows.push_back({m.id, m.client_id, m.host, parts});
  }
  table lag{"offsets",
            {"topic", "partition", "committed_offset", "log_end_offset", "lag", "member_id"},
            {}};
  int64_t total = 0;
  for (const auto& tp : rows) {
    json committed_v = committed.contains(tp) ? json(committed[tp]) : json();
    json end_v = ends.contains(tp) ? json(ends[tp]) : json();
    json lag_v;
    if (ends.contains(tp)) {
      int64_t l = ends[tp] - (committed.contains(tp) ? committed[tp] : 0);
      lag_v = l;
      total += l;
    }
    lag.rows.push_back({tp.first, tp.second, committed_v, end_v, lag_v,
                        owner.contains(tp) ? json(owner[tp]) : json()});
  }
  r.fields.push_back({"total_lag", total});
  r.tables = {std::move(members), std::move(lag)};
  print_report(r, ctx.format);
  return boost::outcome_v2::success();
}

struct seek_args {
  std::string group;
  std::vector<std::string> topics;
  bool earliest = false;
  bool latest = false;
  int64_t offset = -1;
  std::string time;
};

// Offsets for a stopped group: Kafka refuses commits from outside while members are active.
outcome<void> group_seek(const context& ctx, const seek_args& a) {
  int targets = int(a.earliest) + int(a.latest) + int(a.offset >= 0) + int(!a.time.empty());
  if (targets != 1)
    return fail("give exactly one of --to-earliest, --to-latest, --to-offset, --to-time");
  CLI_TRY(s, open_session(ctx));
  CLI_TRY(desc, describe_group(s.rk.get(), ctx.opt, a.group));
  if (!desc.members.empty()) {
    return fail("REBALANCE_IN_PROGRESS: group '" + a.group + "' is " + desc.state + " with " +
                std::to_string(desc.members.size()) + " members; stop its consumers first");
  }
  std::vector<std::string> topics = a.topics;
  if (topics.empty()) {
    CLI_TRY(committed, committed_offsets(s.rk.get(), ctx.opt, a.group));
    std::set<std::string> names;
    for (const auto& [tp, off] : committed) names.insert(tp.first);
    topics.assign(names.begin(), names.end());
    if (topics.empty()) {
      return fail("group '" + a.group + "' has no committed offsets; name topics with --topic");
    }
  }
  int64_t when = a.earliest ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
  if (!a.time.empty()) {
    CLI_TRY(ts, parse_time(a.time));
    when = ts;
  }
  partition_list parts(rd_kafka_topic_partition_list_new(0));
  table t{"", {"topic", "partition", "offset"}, {}};
  for (const auto& name : topics) {
    CLI_TRY(topic, require_topic(s.md, name));
    std::map<int32_t, int64_t> offs;
    if (a.offset >= 0) {
      for (const auto& p : topic->partitions) offs[p.id] = a.offset;
    } else {
      CLI_TRY(found, list_offsets(s.rk.get(), ctx.opt, *topic, when));
      offs = std::move(found);
      if (!a.time.empty()) {
        // No record at or after the time: the end, so the group skips everything older.
        CLI_TRY(high, list_offsets(s.rk.get(), ctx.opt, *topic, RD_KAFKA_OFFSET_END));
        for (auto& [p, off] : offs) {
          if (off < 0) off = high[p];
        }
      }
    }
    for (const auto& [p, off] : offs) {
      rd_kafka_topic_partition_list_add(parts.get(), name.c_str(), p)->offset = off;
      t.rows.push_back({name, p, off});
    }
  }
  rd_kafka_AlterConsumerGroupOffsets_t* req =
      rd_kafka_AlterConsumerGroupOffsets_new(a.group.c_str(), parts.get());
  auto ev = admin_call(s.rk.get(), ctx.opt, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS,
                       [&](rd_kafka_AdminOptions_t* ao, rd_kafka_queue_t* q) {
                         rd_kafka_AlterConsumerGroupOffsets(s.rk.get(), &req, 1, ao, q);
                       });
  rd_kafka_AlterConsumerGroupOffsets_destroy(req);
  if (!ev) return ev.error();
  size_t n = 0;
  const auto** rs = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(ev.value().get()), &n);
  for (size_t i = 0; i < n; ++i) {
    CLI_TRY(check_group_result(rs[i]));
  }
  print_report({{}, {t}}, ctx.format);
  return boost::outcome_v2::success();
}

outcome<void> group_delete(const context& ctx, const std::vector<std::string>& groups) {
  CLI_TRY(s, open_session(ctx));
  std::vector<rd_kafka_DeleteGroup_t*> dels;
  for (const auto& g : groups) dels.push_back(rd_kafka_DeleteGroup_new(g.c_str()));
  auto ev = admin_call(s.rk.get(), ctx.opt, RD_KAFKA_ADMIN_OP_DELETEGROUPS,
                       [&](rd_kafka_AdminOptions_t* ao, rd_kafka_queue_t* q) {
                         rd_kafka_DeleteGroups(s.rk.get(), dels.data(), dels.size(), ao, q);
                       });
  rd_kafka_DeleteGroup_destroy_array(dels.data(), dels.size());
  if (!ev) return ev.error();
  size_t n = 0;
  const auto** rs =
      rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev.value().get()), &n);
  table t{"", {"group", "result"}, {}};
  std::optional<failure> first;
  for (size_t i = 0; i < n; ++i) {
    auto r = check_group_result(rs[i]);
    t.rows.push_back({rd_kafka_group_result_name(rs[i]), r ? "deleted" : r.error().message});
    if (!r && !first) first = r.error();
  }
  print_report({{}, {t}}, ctx.format);
  if (first) return *first;
  return boost::outcome_v2::success();
}

}  // namespace

void add_group_commands(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("group", "Consumer groups: list, describe (lag), seek, delete");
  group->require_subcommand(1);

  auto* list = group->add_subcommand("list", "List consumer groups");
  list->alias("ls");
  examples(list, {"sluice group list"});
  ctx.on(list, [&ctx] { return group_list(ctx); });

  auto name = std::make_shared<std::string>();
  auto* describe = group->add_subcommand(
      "describe", "Show a group's state, members, assignments and lag per partition");
  describe->add_option("group", *name, "Group id")->required();
  examples(describe,
           {"sluice group describe billing", "sluice group describe billing --format json"});
  ctx.on(describe, [&ctx, name] { return group_describe(ctx, *name); });

  auto sa = std::make_shared<seek_args>();
  auto* seek = group->add_subcommand(
      "seek", "Move a stopped group's committed offsets (earliest, latest, a time or an offset)");
  seek->add_option("group", sa->group, "Group id")->required();
  seek->add_option("--topic", sa->topics,
                   "Topics to move (repeatable; default: those with committed offsets)");
  seek->add_flag("--to-earliest", sa->earliest, "The first retained record");
  seek->add_flag("--to-latest", sa->latest, "The end (skip everything)");
  seek->add_option("--to-offset", sa->offset, "This offset in every partition")
      ->check(CLI::NonNegativeNumber);
  seek->add_option("--to-time", sa->time,
                   "The first record at/after: ms since epoch, 2026-11-27T06:00:00Z, or -1h");
  examples(seek, {"sluice group seek billing --to-earliest",
                  "sluice group seek billing --topic orders --to-time -2h"});
  ctx.on(seek, [&ctx, sa] { return group_seek(ctx, *sa); });

  auto names = std::make_shared<std::vector<std::string>>();
  auto* del = group->add_subcommand("delete", "Delete groups (they must have no active members)");
  del->alias("rm");
  del->add_option("groups", *names, "Group ids")->required();
  examples(del, {"sluice group delete billing"});
  ctx.on(del, [&ctx, names] { return group_delete(ctx, *names); });
}

}  // namespace sluice::cli
