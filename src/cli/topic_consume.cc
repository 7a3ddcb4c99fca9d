// sluice topic consume: prints records with a kcat-style format string (or JSON lines), from an
// offset, a time or a consumer group; follows by default, `-e` stops at the end, `-n` after N.
// Without a group it uses librdkafka's C++ simple consumer (no coordinator involved); with `-g`
// the C++ KafkaConsumer joins the group and commits as it goes.

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <set>

#include "src/cli/commands.h"
#include "src/cli/util.h"

namespace sluice::cli {

namespace {

volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

struct consume_args {
  std::string topic;
  std::string format;
  std::string offset = "beginning";
  std::string time;
  std::string group;
  std::vector<int32_t> partitions;
  int64_t count = -1;
  bool exit_at_end = false;
};

std::string bytes(const void* p, size_t n) {
  return p ? std::string(static_cast<const char*>(p), n) : std::string();
}

// Renders one record with the format string: %t topic, %p partition, %o offset, %k key, %v value,
// %h headers (k=v,...), %T timestamp (ms), %K key length, %S value length, %% and \n \t \\ escapes.
std::string render(const std::string& fmt, RdKafka::Message& m) {
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '\\' && i + 1 < fmt.size()) {
      char e = fmt[++i];
      out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == '0' ? '\0' : e;
      continue;
    }
    if (c != '%' || i + 1 == fmt.size()) {
      out += c;
      continue;
    }
    switch (char f = fmt[++i]) {
      case 't':
        out += m.topic_name();
        break;
      case 'p':
        out += std::to_string(m.partition());
        break;
      case 'o':
        out += std::to_string(m.offset());
        break;
      case 'k':
        out += m.key_pointer() ? bytes(m.key_pointer(), m.key_len()) : "";
        break;
      case 'v':
        out += bytes(m.payload(), m.len());
        break;
      case 'K':
        out += m.key_pointer() ? std::to_string(m.key_len()) : "-1";
        break;
      case 'S':
        out += m.payload() ? std::to_string(m.len()) : "-1";
        break;
      case 'T':
        out += std::to_string(m.timestamp().timestamp);
        break;
      case 'h': {
        std::string hs;
        if (RdKafka::Headers* h = m.headers()) {
          for (const auto& hdr : h->get_all()) {
            if (!hs.empty()) hs += ',';
            hs += hdr.key() + "=" + bytes(hdr.value(), hdr.value_size());
          }
        }
        out += hs;
        break;
      }
      case '%':
        out += '%';
        break;
      default:
        out += '%';
        out += f;
    }
  }
  return out;
}

json record_json(RdKafka::Message& m) {
  json headers = json::object();
  if (RdKafka::Headers* h = m.headers()) {
    for (const auto& hdr : h->get_all()) {
      headers[hdr.key()] = hdr.value() ? json(bytes(hdr.value(), hdr.value_size())) : json();
    }
  }
  return json{{"topic", m.topic_name()},
              {"partition", m.partition()},
              {"offset", m.offset()},
              {"timestamp", m.timestamp().timestamp},
              {"key", m.key_pointer() ? json(bytes(m.key_pointer(), m.key_len())) : json()},
              {"value", m.payload() ? json(bytes(m.payload(), m.len())) : json()},
              {"headers", headers}};
}

class printer {
 public:
  printer(const context& ctx, const consume_args& a)
      : _ctx(ctx), _a(a), _meter("consumed", isatty(STDERR_FILENO) && !isatty(STDOUT_FILENO)) {}

  void print(RdKafka::Message& m) {
    if (!_a.format.empty() || _ctx.format == output_format::table) {
      auto s = render(_a.format.empty() ? "%v\\n" : _a.format, m);
      std::fwrite(s.data(), 1, s.size(), stdout);
    } else if (_ctx.format == output_format::json) {
      auto s = record_json(m).dump(-1, ' ', false, json::error_handler_t::replace);
      std::printf("%s\n", s.c_str());
    } else {
      std::printf("---\n");
      print_document(record_json(m), output_format::yaml);
    }
    if (_tty) std::fflush(stdout);
    ++_printed;
    _meter.add(1, m.len() + m.key_len());
  }
  // Called when no record is waiting: a pipe reader (`| grep`) sees records without waiting for
  // a full buffer, and bulk output is not flushed per record.
  void idle() { std::fflush(stdout); }
  bool done() const { return stop_requested || (_a.count >= 0 && _printed >= _a.count); }
  void finish() {
    std::fflush(stdout);
    _meter.finish();
  }

 private:
  const context& _ctx;
  const consume_args& _a;
  progress _meter;
  int64_t _printed = 0;
  bool _tty = isatty(STDOUT_FILENO);
};

outcome<int64_t> start_offset(const std::string& spec) {
  if (spec == "beginning" || spec == "earliest" || spec == "start") {
    return RdKafka::Topic::OFFSET_BEGINNING;
  }
  if (spec == "end" || spec == "latest") return RdKafka::Topic::OFFSET_END;
  if (spec == "stored") return RdKafka::Topic::OFFSET_STORED;
  char* endp = nullptr;
  long long n = std::strtoll(spec.c_str(), &endp, 10);
  if (spec.empty() || *endp != '\0') {
    return fail("invalid offset '" + spec + "' (beginning, end, N, or -N for N before the end)");
  }
  return n < 0 ? RdKafka::Consumer::OffsetTail(-n) : static_cast<int64_t>(n);
}

// Handles one polled message; returns false when the loop should end with `error` set.
bool handle(RdKafka::Message* m, printer& out, std::set<int32_t>& at_end,
            std::optional<failure>& error) {
  switch (m->err()) {
    case RdKafka::ERR_NO_ERROR:
      at_end.erase(m->partition());
      out.print(*m);
      return true;
    case RdKafka::ERR__TIMED_OUT:
      return true;
    case RdKafka::ERR__PARTITION_EOF:
      at_end.insert(m->partition());
      return true;
    default:
      error = kafka_failure(static_cast<rd_kafka_resp_err_t>(m->err()), m->errstr());
      return false;
  }
}

outcome<void> consume_simple(const context& ctx, const consume_args& a, const topic_info& topic,
                             std::map<int32_t, int64_t> starts) {
  CLI_TRY(conf, make_cpp_conf(ctx.opt));
  CLI_TRY(set_property(*conf, "enable.partition.eof", a.exit_at_end ? "true" : "false"));
  std::string err;
  std::unique_ptr<RdKafka::Consumer> consumer(RdKafka::Consumer::create(conf.get(), err));
  if (!consumer) return fail("cannot create consumer: " + err);
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(consumer.get(), a.topic, nullptr, err));
  if (!t) return fail("cannot open topic: " + err);
  std::unique_ptr<RdKafka::Queue> queue(RdKafka::Queue::create(consumer.get()));
  for (const auto& [p, off] : starts) {
    if (auto rc = consumer->start(t.get(), p, off, queue.get())) {
      return kafka_failure(static_cast<rd_kafka_resp_err_t>(rc), RdKafka::err2str(rc));
    }
  }
  printer out(ctx, a);
  std::set<int32_t> at_end;
  std::optional<failure> error;
  while (!out.done()) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(queue.get(), 100));
    if (!m || m->err() == RdKafka::ERR__TIMED_OUT) out.idle();
    if (m && !handle(m.get(), out, at_end, error)) break;
    if (a.exit_at_end && at_end.size() == starts.size()) break;
  }
  out.finish();
  for (const auto& [p, off] : starts) consumer->stop(t.get(), p);
  (void)topic;
  if (error) return *error;
  return boost::outcome_v2::success();
}

outcome<void> consume_group(const context& ctx, const consume_args& a) {
  CLI_TRY(conf, make_cpp_conf(ctx.opt));
  CLI_TRY(set_property(*conf, "group.id", a.group));
  CLI_TRY(set_property(*conf, "enable.partition.eof", a.exit_at_end ? "true" : "false"));
  // Where a group without committed offsets starts.
  std::string reset = a.offset == "end" || a.offset == "latest" ? "latest" : "earliest";
  CLI_TRY(set_property(*conf, "auto.offset.reset", reset));
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) return fail("cannot create consumer: " + err);
  if (auto rc = consumer->subscribe({a.topic})) {
    return kafka_failure(static_cast<rd_kafka_resp_err_t>(rc), RdKafka::err2str(rc));
  }
  printer out(ctx, a);
  std::set<int32_t> at_end;
  std::optional<failure> error;
  while (!out.done()) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (!m || m->err() == RdKafka::ERR__TIMED_OUT) out.idle();
    if (m && !handle(m.get(), out, at_end, error)) break;
    if (a.exit_at_end && !at_end.empty()) {
      std::vector<RdKafka::TopicPartition*> assigned;
      consumer->assignment(assigned);
      size_t n = assigned.size();
      RdKafka::TopicPartition::destroy(assigned);
      if (n > 0 && at_end.size() >= n) break;
    }
  }
  out.finish();
  consumer->close();  // commits what was printed and leaves the group
  if (error) return *error;
  return boost::outcome_v2::success();
}

outcome<void> topic_consume(const context& ctx, const consume_args& a) {
  if (!a.group.empty() && !a.time.empty()) {
    return fail("--time does not apply to a group; move it with `sluice group seek --to-time`");
  }
  if (!a.group.empty() && !a.partitions.empty()) {
    return fail("--partition does not apply to a group (the group assigns partitions)");
  }
  CLI_TRY(s, open_session(ctx));
  CLI_TRY(topic, require_topic(s.md, a.topic));
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, on_signal);
  if (!a.group.empty()) return consume_group(ctx, a);

  std::map<int32_t, int64_t> starts;
  for (const auto& p : topic->partitions) {
    if (a.partitions.empty() ||
        std::find(a.partitions.begin(), a.partitions.end(), p.id) != a.partitions.end()) {
      starts[p.id] = 0;
    }
  }
  for (int32_t p : a.partitions) {
    if (!starts.contains(p)) {
      return kafka_failure(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                           "topic '" + a.topic + "' has no partition " + std::to_string(p));
    }
  }
  if (!a.time.empty()) {
    CLI_TRY(ts, parse_time(a.time));
    CLI_TRY(by_time, list_offsets(s.rk.get(), ctx.opt, *topic, ts));
    for (auto& [p, off] : starts) {
      // -1: no record at or after that time; start at the end.
      off = by_time[p] < 0 ? RdKafka::Topic::OFFSET_END : by_time[p];
    }
  } else {
    CLI_TRY(off, start_offset(a.offset));
    if (off == RdKafka::Topic::OFFSET_STORED) return fail("--offset stored needs --group");
    for (auto& [p, o] : starts) o = off;
  }
  s.rk.reset();
  return consume_simple(ctx, a, *topic, std::move(starts));
}

}  // namespace

void add_topic_consume_command(CLI::App& topic, context& ctx) {
  auto a = std::make_shared<consume_args>();
  auto* cmd = topic.add_subcommand(
      "consume", "Print records; follows the topic until interrupted unless -e or -n is given");
  cmd->add_option("topic", a->topic, "Topic name")->required();
  cmd->add_option("-f,--fmt", a->format,
                  "Format string: %t topic, %p partition, %o offset, %k key, %v value, "
                  "%h headers, %T timestamp ms, %K/%S key/value length, \\n \\t (default: %v\\n; "
                  "with --format json: one JSON object per line)");
  cmd->add_option("-o,--offset", a->offset,
                  "Start at: beginning (default), end, N, or -N (N records before the end)");
  cmd->add_option("-t,--time", a->time,
                  "Start at the first record at/after a time: ms since epoch, "
                  "2026-11-27T06:00:00Z, or -10m");
  cmd->add_option("-g,--group", a->group, "Consume as a member of this consumer group");
  cmd->add_option("-p,--partition", a->partitions, "Only these partitions (repeatable)");
  cmd->add_option("-n,--count", a->count, "Stop after N records")->check(CLI::NonNegativeNumber);
  cmd->add_flag("-e,--exit", a->exit_at_end,
                "Stop at the end of the partitions instead of following");
  examples(cmd, {"sluice topic consume orders -e",
                 "sluice topic consume orders -o -10 -f '%p:%o %k=%v\\n'",
                 "sluice topic consume orders -t -1h -n 100 --format json",
                 "sluice topic consume orders -g billing"});
  ctx.on(cmd, [&ctx, a] { return topic_consume(ctx, *a); });
}

}  // namespace sluice::cli
