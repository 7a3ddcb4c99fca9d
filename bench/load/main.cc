// sluice-load: an end-to-end load generator on librdkafka's C API, for Sluice or any Kafka broker.
//
//   sluice-load produce|consume|e2e [--bootstrap H:P] [--topic T] [--partitions N] [--size B]
//               [--count N | --duration S] [--rate MSGS_PER_S] [--acks 0|1|all] [--linger-ms MS]
//               [--batch-size B] [--compression C] [--idempotence] [--producers N]
//               [--consumers N] [--broker-pid PID] [-X librdkafka.key=value]...
//
// Prints one JSON object (see report.cc). Latency is measured from each message's *intended*
// send time: with --rate the schedule is fixed in advance (open loop), so a stalled broker shows
// up as latency instead of silently slowing the sender (no coordinated omission). Without --rate
// messages are sent as fast as the client queue allows and the intended time is the send time.
//
// produce  latency = delivery report - intended send time
// consume  reads the topic from the beginning (or --count messages); throughput only
// e2e      producers and consumers at once; latency = consumer receive - intended send time,
//          carried in the first 8 payload bytes (same host, CLOCK_MONOTONIC)
//
// --partitions N creates the topic with the admin API (an existing topic is fine). Brokers
// without CreateTopics (librdkafka's mock) get their topics made up front: sluice-mock-broker.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "bench/load/load.h"

int main(int argc, char** argv) {
  using sluice::load::options;
  options o;
  CLI::App cli{"sluice-load: end-to-end Kafka load (librdkafka)", "sluice-load"};
  cli.add_option("mode", o.mode, "produce | consume | e2e")
      ->required()
      ->check(CLI::IsMember({"produce", "consume", "e2e"}));
  cli.add_option("-b,--bootstrap", o.bootstrap, "Bootstrap servers")->capture_default_str();
  cli.add_option("-t,--topic", o.topic, "Topic")->capture_default_str();
  cli.add_option("-p,--partitions", o.partitions,
                 "Create the topic with N partitions (0: it must exist)");
  cli.add_option("-s,--size", o.size, "Message size in bytes")->capture_default_str();
  cli.add_option("-n,--count", o.count, "Messages in total (produce/e2e; consume: at most)");
  cli.add_option("-d,--duration", o.duration_s, "Seconds to send for (instead of --count)");
  cli.add_option("-r,--rate", o.rate, "Target msgs/s over all producers (0: as fast as possible)");
  cli.add_option("--acks", o.acks, "0, 1 or all")->capture_default_str();
  cli.add_option("--linger-ms", o.linger_ms, "linger.ms")->capture_default_str();
  cli.add_option("--batch-size", o.batch_size, "batch.size in bytes")->capture_default_str();
  cli.add_option("--compression", o.compression, "none|gzip|snappy|lz4|zstd")
      ->capture_default_str();
  cli.add_flag("--idempotence", o.idempotence, "enable.idempotence=true");
  cli.add_option("--producers", o.producers, "Producer instances (threads)")
      ->check(CLI::Range(1, 64));
  cli.add_option("--consumers", o.consumers, "Consumer instances (threads)")
      ->check(CLI::Range(1, 64));
  cli.add_option("--broker-pid", o.broker_pid, "Report this process's CPU seconds and peak RSS");
  cli.add_option("--timeout", o.timeout_s, "Give up waiting for deliveries/messages after S s")
      ->capture_default_str();
  cli.add_option("-X", o.extra, "Extra librdkafka property key=value (repeatable)");
  CLI11_PARSE(cli, argc, argv);
  if (o.count == 0 && o.duration_s <= 0 && o.mode != "consume") o.count = 100000;
  if (o.size < 8 && o.mode == "e2e") {
    std::fprintf(stderr, "sluice-load: e2e needs --size >= 8 (the send time is in the payload)\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  return sluice::load::run(o);
}
