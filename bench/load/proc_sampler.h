#pragma once
// Samples another process's CPU time and resident memory from /proc/<pid> (Linux): the broker
// cost of a load run. CPU seconds are utime+stime between start() and stop(); peak RSS is the
// largest VmRSS seen by a 20 ms sampling thread, and at least the process's VmHWM if it started
// after start() (fresh broker per run), so short peaks are not missed then.
//
// Thread safety: start()/stop() from one thread; the sampler thread is internal.

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <thread>

namespace sluice::load {

class proc_sampler {
 public:
  explicit proc_sampler(pid_t pid) : _pid(pid) {}
  ~proc_sampler() { stop(); }
  proc_sampler(const proc_sampler&) = delete;
  proc_sampler& operator=(const proc_sampler&) = delete;

  // False when /proc/<pid> cannot be read.
  bool start();
  void stop();

  double cpu_seconds() const { return _cpu_end - _cpu_start; }
  uint64_t peak_rss_bytes() const { return _peak_rss.load(); }
  // The process's lifetime peak (VmHWM) read at stop().
  uint64_t hwm_bytes() const { return _hwm; }

 private:
  bool read_cpu(double& seconds) const;
  // VmRSS and VmHWM in bytes; false if unreadable.
  bool read_mem(uint64_t& rss, uint64_t& hwm) const;

  pid_t _pid;
  double _cpu_start = 0;
  double _cpu_end = 0;
  uint64_t _hwm = 0;
  std::atomic<uint64_t> _peak_rss{0};
  std::atomic<bool> _running{false};
  std::thread _thread;
};

}  // namespace sluice::load
