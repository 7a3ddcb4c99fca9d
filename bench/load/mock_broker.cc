// sluice-mock-broker: librdkafka's in-memory mock cluster as a standalone broker, the reference
// in `./dev bench e2e`.
//
//   sluice-mock-broker [--brokers N] [--topic NAME:PARTITIONS]...
//
// Prints its bootstrap ("127.0.0.1:PORT", one line on stdout, flushed) once it listens, then
// serves until SIGTERM or SIGINT. The mock has no CreateTopics, so topics the load tool uses are
// created here (rd_kafka_mock_topic_create). It keeps everything in memory (about 5 MiB of log
// per partition) and writes nothing: the floor of broker cost. The port is the mock's choice
// (librdkafka 2.0.2 cannot be told one).

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  CLI::App cli{"sluice-mock-broker: librdkafka's mock cluster on a port", "sluice-mock-broker"};
  int brokers = 1;
  std::vector<std::string> topics;
  cli.add_option("--brokers", brokers, "Number of mock brokers")->check(CLI::Range(1, 16));
  cli.add_option("--topic", topics, "Create topic NAME:PARTITIONS (repeatable)");
  CLI11_PARSE(cli, argc, argv);

  // Block the stop signals before librdkafka starts its threads, so only sigwait() sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "sluice-mock-broker: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!cluster) {
    std::fprintf(stderr, "sluice-mock-broker: cannot start the mock cluster\n");
    return 1;
  }
  for (const auto& t : topics) {
    auto colon = t.rfind(':');
    int partitions = 1;
    std::string name = t;
    if (colon != std::string::npos) {
      name = t.substr(0, colon);
      partitions = std::atoi(t.c_str() + colon + 1);
    }
    if (name.empty() || partitions < 1) {
      std::fprintf(stderr, "sluice-mock-broker: --topic expects NAME:PARTITIONS, got '%s'\n",
                   t.c_str());
      return 2;
    }
    auto e = rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, 1);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "sluice-mock-broker: create %s: %s\n", name.c_str(),
                   rd_kafka_err2str(e));
      return 1;
    }
  }
  std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
