#include "bench/load/proc_sampler.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace sluice::load {

bool proc_sampler::read_cpu(double& seconds) const {
  std::ifstream in("/proc/" + std::to_string(_pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  // After ')': state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
  // utime(14) stime(15).
  for (int i = 3; i <= 15 && (fields >> f); ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return true;
}

bool proc_sampler::read_mem(uint64_t& rss, uint64_t& hwm) const {
  std::ifstream in("/proc/" + std::to_string(_pid) + "/status");
  std::string line;
  bool found = false;
  while (std::getline(in, line)) {
    unsigned long long kb = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %llu kB", &kb) == 1) {
      rss = kb * 1024;
      found = true;
    } else if (std::sscanf(line.c_str(), "VmHWM: %llu kB", &kb) == 1) {
      hwm = kb * 1024;
    }
  }
  return found;
}

bool proc_sampler::start() {
  uint64_t rss = 0, hwm = 0;
  if (!read_cpu(_cpu_start) || !read_mem(rss, hwm)) return false;
  _peak_rss = rss;
  _running = true;
  _thread = std::thread([this] {
    while (_running.load()) {
      uint64_t r = 0, h = 0;
      if (read_mem(r, h) && r > _peak_rss.load()) _peak_rss = r;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  return true;
}

void proc_sampler::stop() {
  if (!_running.exchange(false)) return;
  _thread.join();
  if (!read_cpu(_cpu_end)) _cpu_end = _cpu_start;
  uint64_t rss = 0;
  if (read_mem(rss, _hwm) && rss > _peak_rss.load()) _peak_rss = rss;
}

}  // namespace sluice::load
