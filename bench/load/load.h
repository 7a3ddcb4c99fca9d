#pragma once
// The load runs behind sluice-load (main.cc documents the modes and what is measured).
//
// Threads: one sender thread and one delivery-report poller per producer instance, one thread
// per consumer instance; each keeps its own counters and histogram, merged after they join.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::load {

struct options {
  std::string mode;
  std::string bootstrap = "127.0.0.1:9092";
  std::string topic = "sluice-load";
  int partitions = 0;
  size_t size = 1024;
  uint64_t count = 0;
  double duration_s = 0;
  double rate = 0;
  std::string acks = "1";
  int linger_ms = 5;
  int batch_size = 1 << 20;
  std::string compression = "none";
  bool idempotence = false;
  int producers = 1;
  int consumers = 1;
  pid_t broker_pid = 0;
  double timeout_s = 120;
  std::vector<std::string> extra;
};

// Runs the load and prints the JSON report on stdout; the exit status (0 when no message failed).
int run(const options& o);

}  // namespace sluice::load
