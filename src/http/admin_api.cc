#include "src/http/admin_api.h"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <map>
#include <set>

#include "proto/sluice/admin.pb.h"
#include "src/base/config_keys.h"
#include "src/broker/partition_metadata.h"
#include "src/broker/topic_names.h"

namespace sluice::http {

namespace v1 = sluice::admin::v1;

namespace {

// Waiting longer than this for a shard means it is stopping; the answer leaves it out.
constexpr auto kShardTimeout = std::chrono::seconds(5);
constexpr const char* kAllow = "GET, HEAD";

response json(unsigned status, const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  response r;
  r.status = status;
  if (!google::protobuf::util::MessageToJsonString(m, &r.body, opts).ok()) {
    r.status = 500;
    r.body = R"({"code":500,"error":"internal","message":"cannot render JSON"})";
  }
  r.body += '\n';
  return r;
}

response error(unsigned status, std::string code, std::string message) {
  v1::Error e;
  e.set_code(static_cast<int32_t>(status));
  e.set_error(std::move(code));
  e.set_message(std::move(message));
  return json(status, e);
}

metrics::family<metrics::counter>& http_requests() {
  static auto& f = metrics::registry::global().counters(
      "sluice_http_requests_total", "Admin HTTP requests answered, by route pattern and status.",
      {"route", "code"});
  return f;
}

// The lag of each committed offset against the partition's high watermark (open partitions).
struct lag_row {
  std::string group, topic;
  int32_t partition;
  int64_t committed, high_watermark, lag;
};

std::vector<lag_row> lag_rows(const std::vector<group_view>& groups,
                              const std::vector<broker::partition_stats>& parts) {
  std::map<std::pair<std::string, int32_t>, int64_t> hw;
  for (const auto& p : parts) hw[{p.topic, p.partition}] = p.high_watermark;
  std::vector<lag_row> out;
  for (const auto& g : groups) {
    for (const auto& o : g.offsets) {
      auto it = hw.find({o.topic, o.partition});
      if (it == hw.end() || o.committed_offset < 0) continue;
      out.push_back({g.group_id, o.topic, o.partition, o.committed_offset, it->second,
                     std::max<int64_t>(0, it->second - o.committed_offset)});
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = hex(s[i + 1]);
    const int lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string uuid_to_base64(const wire::uuid& id) { return broker::kafka_uuid_string(id); }

admin_api::admin_api(broker::broker& b, const readiness& ready, group_directory* groups,
                     std::string version)
    : _broker(b), _ready(ready), _groups(groups), _version(std::move(version)) {
  if (_groups == nullptr) return;
  _lag_collector = std::make_unique<metrics::collector_handle>(
      metrics::registry::global(), [this](metrics::text_writer& w) {
        auto groups = _groups->list();
        auto parts = _broker.open_partition_stats(kShardTimeout);
        // Partitions with committed offsets but no open log (after a restart, nobody produced
        // or fetched yet): open their topics' logs, or an idle group's lag would be missing.
        std::set<std::pair<std::string, int32_t>> open;
        for (const auto& p : parts) open.insert({p.topic, p.partition});
        std::set<std::string> missing;
        for (const auto& g : groups) {
          for (const auto& o : g.offsets) {
            if (!open.contains({o.topic, o.partition})) missing.insert(o.topic);
          }
        }
        auto snap = _broker.topics().snapshot();
        for (const auto& name : missing) {
          auto it = snap->find(name);
          if (it == snap->end()) continue;
          for (auto& p : _broker.topic_partition_stats(it->second, kShardTimeout)) {
            if (!open.contains({p.topic, p.partition})) parts.push_back(std::move(p));
          }
        }
        auto rows = lag_rows(groups, parts);
        w.header("sluice_consumer_group_lag",
                 "High watermark minus the group's committed offset, per partition.", "gauge");
        for (const auto& r : rows) {
          w.sample(
              "sluice_consumer_group_lag",
              {{"group", r.group}, {"topic", r.topic}, {"partition", std::to_string(r.partition)}},
              r.lag);
        }
      });
}

admin_api::~admin_api() = default;

response admin_api::handle(const request& r) {
  std::string route_name = "unmatched";
  response out = route(r, route_name);
  http_requests().with({route_name, std::to_string(out.status)}).inc();
  return out;
}

response admin_api::route(const request& r, std::string& route_name) {
  std::string_view path = r.target;
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);

  // Which route, and its argument (a topic name or group id), before looking at the method.
  enum class which { none, health, ready, topics, topic, groups, group, broker_config, metrics };
  which w = which::none;
  std::string_view arg;
  auto tail = [&](std::string_view prefix) {
    if (!path.starts_with(prefix)) return false;
    arg = path.substr(prefix.size());
    return !arg.empty() && arg.find('/') == std::string_view::npos;
  };
  if (path == "/v1/health") {
    w = which::health, route_name = "/v1/health";
  } else if (path == "/v1/ready") {
    w = which::ready, route_name = "/v1/ready";
  } else if (path == "/v1/topics") {
    w = which::topics, route_name = "/v1/topics";
  } else if (tail("/v1/topics/")) {
    w = which::topic, route_name = "/v1/topics/{name}";
  } else if (path == "/v1/groups") {
    w = which::groups, route_name = "/v1/groups";
  } else if (tail("/v1/groups/")) {
    w = which::group, route_name = "/v1/groups/{id}";
  } else if (path == "/v1/broker/config") {
    w = which::broker_config, route_name = "/v1/broker/config";
  } else if (path == "/metrics") {
    w = which::metrics, route_name = "/metrics";
  }
  if (w == which::none) return error(404, "not_found", "no such path");
  if (r.method != "GET" && r.method != "HEAD") {
    response out = error(405, "method_not_allowed", r.method + " is not allowed here; use GET");
    out.allow = kAllow;
    return out;
  }

  std::optional<std::string> decoded;
  if (w == which::topic || w == which::group) {
    decoded = percent_decode(arg);
    if (!decoded) return error(400, "bad_request", "malformed percent-encoding in the path");
  }
  switch (w) {
    case which::health: {
      v1::Health h;
      h.set_status("ok");
      h.set_version(_version);
      return json(200, h);
    }
    case which::ready:
      return ready();
    case which::topics:
      return topics();
    case which::topic:
      return topic(*decoded);
    case which::groups:
      return groups();
    case which::group:
      return group(*decoded);
    case which::broker_config:
      return broker_config();
    case which::metrics: {
      response out;
      out.content_type = "text/plain; version=0.0.4; charset=utf-8";
      out.body = metrics::registry::global().render();
      return out;
    }
    case which::none:
      break;
  }
  return error(404, "not_found", "no such path");
}

response admin_api::ready() {
  v1::Ready r;
  r.set_storage_recovered(_ready.storage_recovered.load());
  r.set_listeners_up(_ready.listeners_up.load());
  r.set_ready(r.storage_recovered() && r.listeners_up());
  return json(r.ready() ? 200 : 503, r);
}

response admin_api::topics() {
  v1::TopicList list;
  for (const auto& [name, t] : *_broker.topics().snapshot()) {
    auto* s = list.add_topics();
    s->set_name(name);
    s->set_id(uuid_to_base64(t->id));
    s->set_partition_count(t->partitions);
    s->set_replication_factor(1);
  }
  return json(200, list);
}

response admin_api::topic(const std::string& name) {
  if (auto why = broker::validate_topic_name(name); !why.empty()) {
    return error(400, "bad_request", why);
  }
  auto snap = _broker.topics().snapshot();
  auto it = snap->find(name);
  if (it == snap->end()) return error(404, "not_found", "unknown topic '" + name + "'");
  const auto& t = it->second;
  v1::TopicDetail d;
  d.set_name(t->name);
  d.set_id(uuid_to_base64(t->id));
  d.set_partition_count(t->partitions);
  d.set_replication_factor(1);
  for (const auto& [k, v] : t->configs) (*d.mutable_configs())[k] = v;
  int64_t total = 0;
  for (const auto& p : _broker.topic_partition_stats(t, kShardTimeout)) {
    auto* pi = d.add_partitions();
    pi->set_partition(p.partition);
    pi->set_leader(_broker.cfg().node_id);
    pi->set_log_start_offset(p.log_start_offset);
    pi->set_high_watermark(p.high_watermark);
    pi->set_size_bytes(static_cast<int64_t>(p.size_bytes));
    pi->set_segments(static_cast<int64_t>(p.segments));
    total += static_cast<int64_t>(p.size_bytes);
  }
  d.set_size_bytes(total);
  return json(200, d);
}

response admin_api::groups() {
  v1::GroupList list;
  if (_groups != nullptr) {
    for (const auto& g : _groups->list()) {
      auto* s = list.add_groups();
      s->set_group_id(g.group_id);
      s->set_state(g.state);
      s->set_protocol_type(g.protocol_type);
      s->set_members(static_cast<int32_t>(g.members.size()));
    }
  }
  return json(200, list);
}

response admin_api::group(const std::string& id) {
  std::optional<group_view> g;
  if (_groups != nullptr) g = _groups->describe(id);
  if (!g) return error(404, "not_found", "unknown group '" + id + "'");
  v1::GroupDetail d;
  d.set_group_id(g->group_id);
  d.set_state(g->state);
  d.set_protocol_type(g->protocol_type);
  d.set_protocol(g->protocol);
  for (const auto& m : g->members) {
    auto* gm = d.add_members();
    gm->set_member_id(m.member_id);
    gm->set_client_id(m.client_id);
    gm->set_client_host(m.client_host);
    for (const auto& [topic, parts] : m.assignments) {
      auto* a = gm->add_assignments();
      a->set_topic(topic);
      for (int32_t p : parts) a->add_partitions(p);
    }
  }
  // Lag against every partition of the group's topics (opening their logs if needed).
  std::vector<broker::partition_stats> parts;
  auto snap = _broker.topics().snapshot();
  std::map<std::string, bool> seen;
  for (const auto& o : g->offsets) {
    if (seen[o.topic]) continue;
    seen[o.topic] = true;
    if (auto it = snap->find(o.topic); it != snap->end()) {
      auto got = _broker.topic_partition_stats(it->second, kShardTimeout);
      parts.insert(parts.end(), got.begin(), got.end());
    }
  }
  std::map<std::pair<std::string, int32_t>, int64_t> hw;
  for (const auto& p : parts) hw[{p.topic, p.partition}] = p.high_watermark;
  int64_t total = 0;
  for (const auto& o : g->offsets) {
    auto* po = d.add_offsets();
    po->set_topic(o.topic);
    po->set_partition(o.partition);
    po->set_committed_offset(o.committed_offset);
    auto it = hw.find({o.topic, o.partition});
    const int64_t high = it == hw.end() ? -1 : it->second;
    po->set_high_watermark(high);
    const int64_t lag =
        high < 0 || o.committed_offset < 0 ? 0 : std::max<int64_t>(0, high - o.committed_offset);
    po->set_lag(lag);
    total += lag;
  }
  d.set_total_lag(total);
  return json(200, d);
}

response admin_api::broker_config() {
  v1::BrokerConfig c;
  c.set_node_id(_broker.cfg().node_id);
  c.set_cluster_id(_broker.cluster_id());
  auto now = _broker.topics().broker_configs();
  for (const auto& s : config_settings()) {
    auto* e = c.add_configs();
    e->set_name(std::string(s.name));
    e->set_value(config_setting_value(now->effective, s.name));
    if (now->overrides.contains(std::string(s.name))) {
      e->set_source("dynamic");
    } else {
      e->set_source(e->value() == config_setting_default(s.name) ? "default" : "static");
    }
    e->set_doc(std::string(s.doc));
    e->set_read_only(!broker::is_dynamic_broker_config(s.name));
  }
  return json(200, c);
}

}  // namespace sluice::http
