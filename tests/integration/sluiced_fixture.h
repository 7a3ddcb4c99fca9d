#pragma once
// Starts a real sluiced (build/bin/sluiced) on 127.0.0.1 with port 0 and a temporary data dir,
// for GoogleTest integration tests with real clients. Stops it with SIGTERM and expects exit 0.
// Extra arguments (e.g. {"--set", "num.partitions=8"}) are appended to the command line.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace sluice::testing {

class sluiced_process {
 public:
  explicit sluiced_process(std::vector<std::string> extra = {}) : _extra(std::move(extra)) {
    _dir = std::filesystem::temp_directory_path() /
           ("sluiced-gtest-" + std::to_string(::getpid()) + "-" + std::to_string(_counter++));
    std::filesystem::create_directories(_dir);
    _log = (_dir / "sluiced.log").string();
    start();
  }

  // Stops sluiced cleanly and starts it again on the same data directory (a new port; the log
  // file starts over). Returns the exit status of the stop.
  int restart() {
    int st = stop();
    _port = 0;
    std::error_code ec;
    std::filesystem::remove(
        _log, ec);  // else the old "listening on" line is read before the child truncates
    start();
    return st;
  }

  ~sluiced_process() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(_dir, ec);
  }

  // Sends SIGTERM and returns the exit status (or -1 if it did not exit normally).
  int stop() {
    if (_pid <= 0) return _status;
    ::kill(_pid, SIGTERM);
    int st = 0;
    ::waitpid(_pid, &st, 0);
    _pid = -1;
    _status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return _status;
  }

  int port() const { return _port; }
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(_port); }
  std::string log() const {
    std::ifstream in(_log);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  // Forks sluiced on port 0 and waits (up to 30 s) for the port it logs.
  void start() {
    std::string data = (_dir / "data").string();
    const std::vector<std::string>& extra = _extra;
    _pid = ::fork();
    if (_pid == 0) {
      FILE* f = std::freopen(_log.c_str(), "w", stderr);
      (void)f;
      ::dup2(2, 1);
      std::string bin = std::string(SLUICE_BIN_DIR) + "/sluiced";
      std::vector<std::string> args = {"sluiced", "--listen", "127.0.0.1:0", "--data-dir", data};
      args.insert(args.end(), {"--set", "http.listen=127.0.0.1:0"});  // never the fixed 9644
      if (std::find(extra.begin(), extra.end(), "--log-level") == extra.end()) {
        args.insert(args.end(), {"--log-level", "debug"});
      }
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::regex re(R"(sluiced \S+ listening on 127\.0\.0\.1:(\d+))");
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      std::string out = log();
      if (std::regex_search(out, m, re)) {
        _port = std::stoi(m[1]);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  static inline int _counter = 0;
  std::vector<std::string> _extra;
  std::filesystem::path _dir;
  std::string _log;
  pid_t _pid = -1;
  int _port = 0;
  int _status = -1;
};

}  // namespace sluice::testing
