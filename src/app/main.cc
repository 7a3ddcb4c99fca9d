// sluiced: the Sluice broker daemon.
//
// Startup order: flags -> config (defaults, YAML file, --set overrides) -> logging -> data dir
// check -> shards -> Kafka listener -> HTTP admin listener (its own thread) -> wait for
// SIGINT/SIGTERM -> stop listener, stop HTTP, stop shards, flush logs. A bad config or an unusable
// data dir/port is one line on stderr and exit status 2.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>

#include "src/app/config_loader.h"
#include "src/base/metrics.h"
#include "src/broker/broker.h"
#include "src/broker/producer_ids.h"
#include "src/broker/topic_manager.h"
#include "src/broker/topic_view.h"
#include "src/broker/txn_markers.h"
#include "src/coordinator/group/directory.h"
#include "src/coordinator/group/group_manager.h"
#include "src/coordinator/txn/txn_manager.h"
#include "src/http/admin_api.h"
#include "src/http/server.h"
#include "src/meta/store.h"
#include "src/net/server.h"
#include "src/net/shard_pool.h"
#include "src/storage/file_io.h"

namespace {

constexpr int kConfigError = 2;

int fail_config(const std::string& message) {
  std::fprintf(stderr, "sluiced: %s\n", message.c_str());
  return kConfigError;
}

// Creates the data dir and proves it is writable with a probe file.
std::string check_data_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "log.dir: cannot create '" + dir + "': " + ec.message();
  auto probe = std::filesystem::path(dir) / ".sluice-write-probe";
  {
    std::ofstream out(probe);
    if (!out || !(out << "ok") || !out.flush()) {
      return "log.dir: '" + dir + "' is not writable";
    }
  }
  std::filesystem::remove(probe, ec);
  return {};
}

// The cluster id (Kafka's 22-character base64 UUID) is made once and kept in the data dir.
sluice::result<std::string> load_cluster_id(const std::string& dir) {
  auto path = std::filesystem::path(dir) / "cluster.id";
  std::ifstream in(path);
  std::string id;
  if (in && std::getline(in, id) && id.size() == 22) return id;
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device rd;
  id.clear();
  for (int i = 0; i < 22; ++i) id += kAlphabet[rd() % 64];
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp);
    if (!(out << id << "\n") || !out.flush()) return sluice::errc::io_error;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return ec;
  return id;
}

// Thousands of connections need thousands of descriptors: the soft limit is often 1024 while
// the hard limit allows far more. Raising the soft limit up to the hard one needs no privilege.
void raise_open_files_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit want = lim;
    want.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0) lim = want;
  }
  spdlog::info("open files limit {}", static_cast<uint64_t>(lim.rlim_cur));
}

// http.listen as host and port; "" (disabled) gives port -1. nullopt when malformed.
std::optional<std::pair<std::string, int>> parse_http_listen(const std::string& v) {
  if (v.empty()) return std::pair<std::string, int>{"", -1};
  auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == v.size()) return std::nullopt;
  int port = 0;
  for (char c : v.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) return std::nullopt;
    port = port * 10 + (c - '0');
  }
  if (port > 65535) return std::nullopt;
  std::string host = v.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::pair{host, port};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"sluiced: a Kafka-compatible event broker", "sluiced"};
  std::string config_path;
  std::string listen;
  std::string data_dir;
  std::string log_level;
  std::vector<std::string> sets;
  bool print_defaults = false;
  cli.add_option("-c,--config", config_path, "YAML config file (see config/sluice.yaml)");
  cli.add_option("--listen", listen, "Kafka listener HOST:PORT (overrides 'listeners')");
  cli.add_option("--data-dir", data_dir, "Data directory (overrides 'log.dir')");
  cli.add_option("--log-level", log_level, "trace|debug|info|warn|error (overrides 'log.level')");
  cli.add_option("--set", sets, "Override any setting: --set key=value (repeatable)");
  cli.add_flag("--print-defaults", print_defaults, "Print every setting with its default and exit");
  cli.set_version_flag("--version", std::string("sluiced ") + SLUICE_VERSION);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    cli.exit(e);
    return kConfigError;
  }
  if (print_defaults) {
    std::fputs(sluice::app::describe_defaults().c_str(), stdout);
    return 0;
  }

  sluice::config cfg;
  std::string err;
  if (!config_path.empty()) err = sluice::app::apply_yaml_file(cfg, config_path);
  for (const auto& s : sets) {
    if (!err.empty()) break;
    auto eq = s.find('=');
    if (eq == std::string::npos) {
      err = "--set expects key=value, got '" + s + "'";
      break;
    }
    err = sluice::app::apply_setting(cfg, s.substr(0, eq), s.substr(eq + 1));
  }
  if (err.empty() && !listen.empty()) err = sluice::app::apply_setting(cfg, "listeners", listen);
  if (err.empty() && !data_dir.empty()) err = sluice::app::apply_setting(cfg, "log.dir", data_dir);
  if (err.empty() && !log_level.empty()) {
    err = sluice::app::apply_setting(cfg, "log.level", log_level);
  }
  if (err.empty()) err = sluice::app::validate(cfg);
  if (err.empty()) err = check_data_dir(cfg.data_dir);
  if (!err.empty()) return fail_config(err);
  auto http_listen = parse_http_listen(cfg.http_listen);
  if (!http_listen) {
    return fail_config("http.listen: expected HOST:PORT (or \"\" to disable), got '" +
                       cfg.http_listen + "'");
  }

  auto logger = spdlog::stderr_color_mt("sluiced");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  spdlog::flush_on(spdlog::level::warn);
  raise_open_files_limit();

  auto store = sluice::meta::store::open(cfg.data_dir);
  if (!store)
    return fail_config("log.dir: cannot open the metadata store: " + store.error().message());
  auto cluster_id = load_cluster_id(cfg.data_dir);
  if (!cluster_id) return fail_config("log.dir: " + cluster_id.error().message());
  sluice::broker::topic_manager topics(cfg, *store.value());
  if (auto ec = topics.load()) return fail_config("log.dir: cannot load topics: " + ec.message());

  sluice::http::readiness ready;

  sluice::broker::producer_ids producer_ids(*store.value());
  if (auto ec = producer_ids.load()) {
    return fail_config("log.dir: cannot load producer ids: " + ec.message());
  }

  sluice::net::shard_pool shards(static_cast<unsigned>(cfg.num_shards));
  sluice::broker::broker broker(cfg, shards, topics, cluster_id.value());
  sluice::coordinator::group_manager groups(cfg, shards, *store.value());
  if (auto ec = groups.load()) return fail_config("log.dir: cannot load groups: " + ec.message());
  broker.set_groups(&groups);
  sluice::coordinator::txn_manager txns(cfg, shards, *store.value(), groups);
  txns.set_marker_writer([&broker](unsigned home, sluice::coordinator::txn_markers m,
                                   std::function<void(std::vector<sluice::kafka::error>)> done) {
    sluice::broker::write_txn_markers(broker, home, {m.producer_id, m.epoch, m.commit, 0},
                                      m.partitions, std::move(done));
  });
  txns.set_id_allocator([&producer_ids](std::function<void(sluice::result<int64_t>)> done) {
    producer_ids.allocate(std::move(done));
  });
  if (auto ec = txns.load()) {
    return fail_config("log.dir: cannot load transactions: " + ec.message());
  }
  broker.set_txns(&txns);
  ready.storage_recovered = true;
  sluice::metrics::add_process_collector(sluice::metrics::registry::global());
  broker.register_metrics();
  // The admin API reads groups through the coordinator; KIP-848 topic ids are named from the
  // broker's topic table.
  sluice::coordinator::group_directory_adapter group_directory(
      groups, [&topics] { return sluice::broker::current_topic_view(topics); });
  sluice::http::admin_api admin(broker, ready, &group_directory, SLUICE_VERSION);
  sluice::http::server http([&admin](const sluice::http::request& r) { return admin.handle(r); });
  broker.set_producer_ids(&producer_ids);
  sluice::net::server server(shards, broker,
                             {.max_request_bytes = cfg.socket_request_max_bytes,
                              .max_idle_ms = cfg.connections_max_idle_ms});
  err = server.listen(cfg.listen.host, cfg.listen.port);
  if (!err.empty()) return fail_config("listeners: " + err);
  if (http_listen->second >= 0) {
    err = http.listen(http_listen->first, static_cast<uint16_t>(http_listen->second));
    if (!err.empty()) return fail_config("http.listen: " + err);
  }
  broker.set_advertised(cfg.advertised_host.empty() ? cfg.listen.host : cfg.advertised_host,
                        cfg.advertised_port != 0 ? cfg.advertised_port : server.port());

  shards.start();
  broker.start_housekeeping();
  groups.start();
  txns.start();
  ready.listeners_up = true;
  spdlog::info("sluiced {} listening on {}:{} ({} shards), data in {}", SLUICE_VERSION,
               cfg.listen.host, server.port(), shards.size(), cfg.data_dir);
  if (http_listen->second >= 0) {
    http.start();
    spdlog::info("http listening on {}:{}", http_listen->first, http.port());
  }

  boost::asio::io_context main_ctx;
  boost::asio::signal_set signals(main_ctx, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int sig) {
    spdlog::info("received signal {}, stopping", sig);
    server.stop();
  });
  main_ctx.run();

  ready.listeners_up = false;
  http.stop();  // before the shards: a scrape waits for them
  shards.stop();
  shards.join();
  producer_ids.stop();
  broker.close_partitions();
  groups.stop();
  txns.stop();
  topics.stop();
  // One line for `./dev bench e2e` (bytes per fsync) until /metrics exposes these.
  auto io = sluice::storage::posix_io_counters();
  spdlog::info("storage io: {} fdatasyncs, {} bytes written", io.fdatasyncs, io.bytes_written);
  spdlog::info("sluiced stopped");
  spdlog::shutdown();
  return 0;
}
