// sluice topic produce: lines from stdin or a file become records, through librdkafka's C++
// producer. Optional key separator (the first occurrence splits key and value) and headers added
// to every record. Progress (records, rate) on stderr when stderr is a terminal.

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "src/cli/commands.h"
#include "src/cli/util.h"

namespace sluice::cli {

namespace {

struct produce_args {
  std::string topic;
  std::string file = "-";
  std::string key_sep;
  std::vector<std::string> headers;
  int32_t partition = RdKafka::Topic::PARTITION_UA;
  std::string acks = "all";
  std::string compression = "none";
};

class delivery_counter : public RdKafka::DeliveryReportCb {
 public:
  explicit delivery_counter(progress& meter) : _meter(meter) {}
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() == RdKafka::ERR_NO_ERROR) {
      ++delivered;
      _meter.add(1, m.len() + m.key_len());
    } else {
      ++failed;
      if (!first_error) {
        first_error = kafka_failure(static_cast<rd_kafka_resp_err_t>(m.err()), m.errstr());
      }
    }
  }
  uint64_t delivered = 0;
  uint64_t failed = 0;
  std::optional<failure> first_error;

 private:
  progress& _meter;
};

outcome<void> topic_produce(const context& ctx, const produce_args& a) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& h : a.headers) {
    CLI_TRY(kv, split_assignment(h, "--header"));
    headers.push_back(kv);
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (a.file != "-") {
    file.open(a.file, std::ios::binary);
    if (!file) return fail("cannot open '" + a.file + "'");
    in = &file;
  }
  {
    // Checks the broker and the topic first, so a typo is not auto-created or retried forever.
    CLI_TRY(s, open_session(ctx));
    CLI_TRY(topic, require_topic(s.md, a.topic));
    if (a.partition >= static_cast<int32_t>(topic->partitions.size())) {
      return kafka_failure(
          RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
          "topic '" + a.topic + "' has no partition " + std::to_string(a.partition));
    }
  }
  progress meter("produced", isatty(STDERR_FILENO));
  delivery_counter counter(meter);
  CLI_TRY(conf, make_cpp_conf(ctx.opt));
  CLI_TRY(set_property(*conf, "acks", a.acks));
  CLI_TRY(set_property(*conf, "compression.codec", a.compression));
  // A record that cannot be delivered within the timeout fails instead of being retried forever.
  CLI_TRY(set_property(*conf, "message.timeout.ms", std::to_string(ctx.opt.timeout.count())));
  std::string err;
  conf->set("dr_cb", &counter, err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (!producer) return fail("cannot create producer: " + err);

  uint64_t sent = 0;
  std::string line;
  while (!counter.first_error && std::getline(*in, line)) {
    std::string key;
    const std::string* value = &line;
    std::string rest;
    bool has_key = false;
    if (!a.key_sep.empty()) {
      auto pos = line.find(a.key_sep);
      if (pos != std::string::npos) {
        key = line.substr(0, pos);
        rest = line.substr(pos + a.key_sep.size());
        value = &rest;
        has_key = true;
      }
    }
    for (;;) {
      RdKafka::Headers* hs = nullptr;
      if (!headers.empty()) {
        hs = RdKafka::Headers::create();
        for (const auto& [k, v] : headers) hs->add(k, v);
      }
      auto rc = producer->produce(
          a.topic, a.partition, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value->data()),
          value->size(), has_key ? key.data() : nullptr, has_key ? key.size() : 0, 0, hs, nullptr);
      if (rc == RdKafka::ERR_NO_ERROR) break;
      delete hs;  // ours again when produce() fails
      if (rc != RdKafka::ERR__QUEUE_FULL) {
        return kafka_failure(static_cast<rd_kafka_resp_err_t>(rc), RdKafka::err2str(rc));
      }
      producer->poll(100);  // the queue drains as deliveries complete
    }
    ++sent;
    producer->poll(0);
  }
  // Every queued record is delivered or fails within message.timeout.ms; the slack is for acks.
  producer->flush(static_cast<int>(ctx.opt.timeout.count()) + 5000);
  meter.finish();
  if (counter.first_error) {
    return fail(counter.first_error->message + " (" + std::to_string(counter.failed) + " of " +
                std::to_string(sent) + " records failed)");
  }
  if (producer->outq_len() > 0 || counter.delivered != sent) {
    return fail("TIMED_OUT: " + std::to_string(sent - counter.delivered) +
                " records not acknowledged within the timeout");
  }
  print_report({{{"topic", a.topic}, {"records", counter.delivered}}, {}}, ctx.format);
  return boost::outcome_v2::success();
}

}  // namespace

void add_topic_produce_command(CLI::App& topic, context& ctx) {
  auto a = std::make_shared<produce_args>();
  auto* cmd = topic.add_subcommand("produce", "Produce lines from stdin or a file as records");
  cmd->add_option("topic", a->topic, "Topic name")->required();
  cmd->add_option("-f,--file", a->file, "Read records from this file ('-' for stdin, default)");
  cmd->add_option("-k,--key-sep", a->key_sep,
                  "Split each line at the first SEP into key and value (no SEP: value only)");
  cmd->add_option("-H,--header", a->headers, "Header key=value added to every record (repeatable)");
  cmd->add_option("-p,--partition", a->partition, "Partition (default: the key's hash)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--acks", a->acks, "Acks: 0, 1 or all")
      ->check(CLI::IsMember({"0", "1", "all", "-1"}));
  cmd->add_option("-z,--compression", a->compression, "none, gzip, snappy, lz4 or zstd")
      ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));
  examples(cmd, {"echo hello | sluice topic produce orders",
                 "sluice topic produce orders -k : <<< 'user-1:{\"total\": 3}'",
                 "sluice topic produce orders -f events.txt -H source=import -z zstd"});
  ctx.on(cmd, [&ctx, a] { return topic_produce(ctx, *a); });
}

}  // namespace sluice::cli
