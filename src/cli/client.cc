#include "src/cli/client.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace sluice::cli {

namespace {

// librdkafka abbreviates a few of Kafka's names; scripts match on Kafka's.
const char* kafka_name_override(rd_kafka_resp_err_t err) {
  switch (static_cast<int>(err)) {
    case -1:
      return "UNKNOWN_SERVER_ERROR";
    case 2:
      return "CORRUPT_MESSAGE";
    case 3:
      return "UNKNOWN_TOPIC_OR_PARTITION";
    case 4:
      return "INVALID_FETCH_SIZE";
    case 6:
      return "NOT_LEADER_OR_FOLLOWER";
    case 10:
      return "MESSAGE_TOO_LARGE";
    case 17:
      return "INVALID_TOPIC_EXCEPTION";
    case 100:
      return "UNKNOWN_TOPIC_ID";
    case 103:
      return "INCONSISTENT_TOPIC_ID";
    case 110:
      return "FENCED_MEMBER_EPOCH";
    case 111:
      return "UNRELEASED_INSTANCE_ID";
    case 112:
      return "UNSUPPORTED_ASSIGNOR";
    case 113:
      return "STALE_MEMBER_EPOCH";
    default:
      return nullptr;
  }
}

bool unreachable(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
         err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE;
}

void quiet_log(const rd_kafka_t*, int, const char*, const char*) {}

int ms(const options& opt) { return static_cast<int>(opt.timeout.count()); }

std::vector<int32_t> ids(const int32_t* p, int n) { return std::vector<int32_t>(p, p + n); }

struct resource_deleter {
  void operator()(rd_kafka_ConfigResource_t* r) const { rd_kafka_ConfigResource_destroy(r); }
};
using resource_ptr = std::unique_ptr<rd_kafka_ConfigResource_t, resource_deleter>;

}  // namespace

std::string error_name(rd_kafka_resp_err_t err) {
  if (const char* n = kafka_name_override(err)) return n;
  return rd_kafka_err2name(err);
}

failure kafka_failure(rd_kafka_resp_err_t err, const std::string& detail) {
  return fail(error_name(err) + ": " + (detail.empty() ? rd_kafka_err2str(err) : detail));
}

outcome<std::vector<std::pair<std::string, std::string>>> base_properties(const options& opt) {
  const auto t = std::to_string(ms(opt));
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", opt.brokers},
      {"client.id", "sluice-cli"},
      {"socket.timeout.ms", t},
      {"socket.connection.setup.timeout.ms", std::to_string(std::max(ms(opt), 1000))},
      {"api.version.request.timeout.ms", t},
      {"reconnect.backoff.max.ms", "1000"},
      {"log.connection.close", "false"},
  };
  for (const auto& p : opt.properties) {
    CLI_TRY(kv, split_assignment(p, "-X"));
    props.push_back(kv);
  }
  return props;
}

outcome<rd_kafka_conf_t*> make_conf(const options& opt) {
  CLI_TRY(props, base_properties(opt));
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return fail("invalid client property " + k + "=" + v + ": " + err);
    }
  }
  if (!opt.verbose) rd_kafka_conf_set_log_cb(conf, quiet_log);
  return conf;
}

namespace {

class event_sink : public RdKafka::EventCb {
 public:
  explicit event_sink(bool verbose) : _verbose(verbose) {}
  void event_cb(RdKafka::Event& e) override {
    if (_verbose) std::fprintf(stderr, "librdkafka: %s\n", e.str().c_str());
  }

 private:
  bool _verbose;
};

event_sink quiet_sink(false);
event_sink verbose_sink(true);

}  // namespace

outcome<void> set_property(RdKafka::Conf& conf, const std::string& key, const std::string& value) {
  std::string err;
  if (conf.set(key, value, err) != RdKafka::Conf::CONF_OK) {
    return fail("invalid client property " + key + "=" + value + ": " + err);
  }
  return boost::outcome_v2::success();
}

outcome<std::unique_ptr<RdKafka::Conf>> make_cpp_conf(const options& opt) {
  CLI_TRY(props, base_properties(opt));
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (const auto& [k, v] : props) {
    CLI_TRY(set_property(*conf, k, v));
  }
  std::string err;
  conf->set("event_cb", opt.verbose ? &verbose_sink : &quiet_sink, err);
  return conf;
}

outcome<handle> make_admin_handle(const options& opt) {
  CLI_TRY(conf, make_conf(opt));
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return fail(std::string("cannot create client: ") + err);
  }
  return handle(rk);
}

const topic_info* cluster_metadata::find(const std::string& topic) const {
  for (const auto& t : topics) {
    if (t.name == topic) return &t;
  }
  return nullptr;
}

outcome<cluster_metadata> connect(rd_kafka_t* rk, const options& opt) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, ms(opt));
  if (err) {
    if (unreachable(err)) {
      return fail("cannot reach a broker at " + opt.brokers + " within " + std::to_string(ms(opt)) +
                  " ms (" + error_name(err) + ")");
    }
    return kafka_failure(err, "metadata request failed");
  }
  cluster_metadata out;
  for (int i = 0; i < md->broker_cnt; ++i) {
    out.brokers.push_back({md->brokers[i].id, md->brokers[i].host, md->brokers[i].port});
  }
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    topic_info ti{t.topic, {}, t.err};
    for (int p = 0; p < t.partition_cnt; ++p) {
      const auto& pm = t.partitions[p];
      ti.partitions.push_back(
          {pm.id, pm.leader, ids(pm.replicas, pm.replica_cnt), ids(pm.isrs, pm.isr_cnt), pm.err});
    }
    std::sort(ti.partitions.begin(), ti.partitions.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    out.topics.push_back(std::move(ti));
  }
  std::sort(out.topics.begin(), out.topics.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::sort(out.brokers.begin(), out.brokers.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  rd_kafka_metadata_destroy(md);
  // Both are cached from the metadata response just received.
  if (char* id = rd_kafka_clusterid(rk, 0)) {
    out.cluster_id = id;
    rd_kafka_mem_free(rk, id);
  }
  out.controller_id = rd_kafka_controllerid(rk, 0);
  return out;
}

outcome<const topic_info*> require_topic(const cluster_metadata& md, const std::string& topic) {
  const topic_info* t = md.find(topic);
  if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    return kafka_failure(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                         "topic '" + topic + "' does not exist");
  }
  if (t->err) return kafka_failure(t->err, "topic '" + topic + "'");
  return t;
}

outcome<event_ptr> admin_call(
    rd_kafka_t* rk, const options& opt, rd_kafka_admin_op_t op,
    const std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>& start) {
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* ao = rd_kafka_AdminOptions_new(rk, op);
  char err[256];
  rd_kafka_AdminOptions_set_request_timeout(ao, ms(opt), err, sizeof err);
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
      op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS) {
    rd_kafka_AdminOptions_set_operation_timeout(ao, ms(opt), err, sizeof err);
  }
  start(ao, q);
  // The request timeout bounds the call; the slack covers librdkafka's own scheduling.
  event_ptr ev(rd_kafka_queue_poll(q, ms(opt) + 2000));
  rd_kafka_AdminOptions_destroy(ao);
  rd_kafka_queue_destroy(q);
  if (!ev) return fail("TIMED_OUT: no answer within " + std::to_string(ms(opt)) + " ms");
  if (rd_kafka_resp_err_t e = rd_kafka_event_error(ev.get())) {
    return kafka_failure(e, rd_kafka_event_error_string(ev.get()));
  }
  return ev;
}

outcome<std::map<int32_t, int64_t>> list_offsets(rd_kafka_t* rk, const options& opt,
                                                 const topic_info& topic, int64_t when) {
  partition_list parts(
      rd_kafka_topic_partition_list_new(static_cast<int>(topic.partitions.size())));
  for (const auto& p : topic.partitions) {
    rd_kafka_topic_partition_list_add(parts.get(), topic.name.c_str(), p.id)->offset = when;
  }
  std::map<int32_t, int64_t> out;
  if (topic.partitions.empty()) return out;
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, parts.get(), ms(opt));
  if (err) return kafka_failure(err, "listing offsets of '" + topic.name + "'");
  for (int i = 0; i < parts->cnt; ++i) {
    const auto& e = parts->elems[i];
    if (e.err) {
      return kafka_failure(e.err,
                           "listing offsets of " + topic.name + "/" + std::to_string(e.partition));
    }
    out[e.partition] = e.offset;
  }
  return out;
}

outcome<std::map<int32_t, watermark>> watermarks(rd_kafka_t* rk, const options& opt,
                                                 const topic_info& topic) {
  CLI_TRY(low, list_offsets(rk, opt, topic, RD_KAFKA_OFFSET_BEGINNING));
  CLI_TRY(high, list_offsets(rk, opt, topic, RD_KAFKA_OFFSET_END));
  std::map<int32_t, watermark> out;
  for (const auto& [p, off] : low) out[p].low = off;
  for (const auto& [p, off] : high) out[p].high = off;
  return out;
}

outcome<std::vector<config_entry>> describe_configs(rd_kafka_t* rk, const options& opt,
                                                    rd_kafka_ResourceType_t type,
                                                    const std::string& name) {
  resource_ptr res(rd_kafka_ConfigResource_new(type, name.c_str()));
  rd_kafka_ConfigResource_t* arr[] = {res.get()};
  CLI_TRY(ev, admin_call(rk, opt, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS,
                         [&](rd_kafka_AdminOptions_t* ao, rd_kafka_queue_t* q) {
                           rd_kafka_DescribeConfigs(rk, arr, 1, ao, q);
                         }));
  size_t n = 0;
  const rd_kafka_ConfigResource_t** rs = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(ev.get()), &n);
  if (n != 1) return fail("DescribeConfigs returned " + std::to_string(n) + " resources");
  if (rd_kafka_resp_err_t e = rd_kafka_ConfigResource_error(rs[0])) {
    const char* s = rd_kafka_ConfigResource_error_string(rs[0]);
    return kafka_failure(e, s && *s ? s : "configs of '" + name + "'");
  }
  size_t cnt = 0;
  const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[0], &cnt);
  std::vector<config_entry> out;
  for (size_t i = 0; i < cnt; ++i) {
    const auto* e = entries[i];
    config_entry c;
    c.name = rd_kafka_ConfigEntry_name(e);
    if (const char* v = rd_kafka_ConfigEntry_value(e)) c.value = v;
    c.source = rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(e));
    c.read_only = rd_kafka_ConfigEntry_is_read_only(e);
    c.is_default = rd_kafka_ConfigEntry_is_default(e);
    c.sensitive = rd_kafka_ConfigEntry_is_sensitive(e);
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

outcome<void> alter_configs(rd_kafka_t* rk, const options& opt, rd_kafka_ResourceType_t type,
                            const std::string& name,
                            const std::map<std::string, std::string>& values) {
  resource_ptr res(rd_kafka_ConfigResource_new(type, name.c_str()));
  for (const auto& [k, v] : values)
    rd_kafka_ConfigResource_set_config(res.get(), k.c_str(), v.c_str());
  rd_kafka_ConfigResource_t* arr[] = {res.get()};
  CLI_TRY(ev, admin_call(rk, opt, RD_KAFKA_ADMIN_OP_ALTERCONFIGS,
                         [&](rd_kafka_AdminOptions_t* ao, rd_kafka_queue_t* q) {
                           rd_kafka_AlterConfigs(rk, arr, 1, ao, q);
                         }));
  size_t n = 0;
  const rd_kafka_ConfigResource_t** rs =
      rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i) {
    if (rd_kafka_resp_err_t e = rd_kafka_ConfigResource_error(rs[i])) {
      const char* s = rd_kafka_ConfigResource_error_string(rs[i]);
      return kafka_failure(e, s && *s ? s : "altering configs of '" + name + "'");
    }
  }
  return boost::outcome_v2::success();
}

outcome<std::pair<std::string, std::string>> split_assignment(const std::string& s,
                                                              const std::string& what) {
  auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0) {
    return fail(what + " expects key=value, got '" + s + "'");
  }
  return std::pair{s.substr(0, eq), s.substr(eq + 1)};
}

}  // namespace sluice::cli
