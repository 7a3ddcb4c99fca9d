#include "src/broker/broker.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>

#include "kafka/api.h"
#include "kafka/headers.h"
#include "src/base/byte_order.h"
#include "src/broker/broker_metrics.h"
#include "src/broker/registry.h"
#include "src/broker/unsupported_version.h"

namespace sluice::broker {

broker::broker(const config& cfg, net::shard_pool& shards, topic_manager& topics,
               std::string cluster_id)
    : _cfg(cfg),
      _shards(shards),
      _topics(topics),
      _cluster_id(std::move(cluster_id)),
      _sync(kSyncThreads, std::chrono::microseconds(cfg.fsync_min_interval_us)) {
  for (unsigned i = 0; i < shards.size(); ++i) {
    shard_executors exec{
        _sync.as_executor(),
        [this](storage::task t) { boost::asio::post(_background, std::move(t)); },
        [this, i](storage::task t) { boost::asio::post(_shards.context(i), std::move(t)); }};
    _partitions.push_back(std::make_unique<shard_partitions>(_fs, cfg.data_dir, std::move(exec),
                                                             cfg.log_retention_check_interval_ms,
                                                             cfg.producer_id_expiration_ms));
  }
  // Each shard keeps its share of the session slots (rounded up, so any nonzero setting allows
  // sessions on every shard).
  const size_t slots = static_cast<size_t>(cfg.max_incremental_fetch_session_cache_slots);
  const size_t per_shard = (slots + shards.size() - 1) / shards.size();
  for (unsigned i = 0; i < shards.size(); ++i) {
    _fetch_sessions.push_back(std::make_unique<fetch_session_cache>(per_shard, i, shards.size()));
  }
  // Partitions of deleted topics whose removal a stop or crash interrupted.
  boost::asio::post(_background, [dir = cfg.data_dir + "/topics"] {
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!name.ends_with("-delete")) continue;
      std::error_code rm;
      std::filesystem::remove_all(it->path(), rm);
      if (rm) spdlog::error("cannot remove {}: {}", it->path().string(), rm.message());
    }
  });
}

namespace {

constexpr auto kHousekeepingPeriod = std::chrono::milliseconds(1000);

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void arm(boost::asio::steady_timer& timer, shard_partitions& parts) {
  timer.expires_after(kHousekeepingPeriod);
  timer.async_wait([&timer, &parts](const boost::system::error_code& ec) {
    if (ec) return;
    parts.housekeeping(wall_ms());
    arm(timer, parts);
  });
}

}  // namespace

void broker::start_housekeeping() {
  for (unsigned i = 0; i < _shards.size(); ++i) {
    _housekeeping.push_back(std::make_unique<boost::asio::steady_timer>(_shards.context(i)));
  }
  for (unsigned i = 0; i < _shards.size(); ++i) {
    boost::asio::post(_shards.context(i), [this, i] { arm(*_housekeeping[i], *_partitions[i]); });
  }
}

void broker::close_partitions() {
  for (auto& p : _partitions) p->close_all();
  _background.join();
}

void broker::post(unsigned shard, std::function<void()> fn) {
  boost::asio::post(_shards.context(shard), std::move(fn));
}

void broker::run_on(unsigned shard, std::function<void()> fn) {
  auto& ctx = _shards.context(shard);
  if (ctx.get_executor().running_in_this_thread()) return fn();
  boost::asio::post(ctx, std::move(fn));
}

namespace {
constexpr int16_t kApiVersionsKey = 18;
constexpr size_t kMinHeaderBytes = 8;  // api_key, api_version, correlation_id

// The response frame (header + body), with the body's file splices moved past the header.
net::reply framed(int32_t correlation_id, int16_t header_version, encoded_body body) {
  wire::bytes out;
  out.reserve(body.bytes.size() + 8);
  wire::writer w(out);
  kafka::response_header hdr;
  hdr.correlation_id = correlation_id;
  hdr.encode(w, header_version);
  const size_t header_size = out.size();
  w.write_raw(body.bytes.data(), body.bytes.size());
  std::vector<net::file_chunk> files;
  files.reserve(body.splices.size());
  for (auto& s : body.splices) {
    files.push_back(
        {s.at + header_size, s.range.fd, s.range.offset, s.range.length, std::move(s.range.owner)});
  }
  return net::reply::send(std::move(out), std::move(files));
}

// A request for an API or version we do not serve: UNSUPPORTED_VERSION where the response can
// carry it, otherwise the connection is closed (see unsupported_version.h).
net::reply refuse(const net::connection_info& info, std::span<const uint8_t> frame, int16_t api_key,
                  int16_t version, int32_t correlation_id) {
  const kafka::api_info* api = kafka::find_api(api_key);
  const int16_t header_version = kafka::request_header_version(api_key, version);
  std::optional<wire::bytes> body;
  if (header_version >= 0) {
    wire::reader r(frame.data(), frame.size());
    kafka::request_header header;
    header.decode(r, header_version);
    if (r.ok()) body = unsupported_version_body(api_key, version, r);
  }
  spdlog::warn("{}: unsupported request {} ({}) v{}{}", info.peer,
               api != nullptr ? api->name : "unknown", api_key, version,
               body ? "" : ", closing the connection");
  if (!body) return net::reply::close();
  return framed(correlation_id, kafka::response_header_version(api_key, version),
                encoded_body{std::move(*body), {}});
}

}  // namespace

void broker::dispatch(net::connection_info& info, net::frame request, net::reply_fn done) {
  const std::span<uint8_t> frame = request.span();
  if (frame.size() < kMinHeaderBytes) {
    spdlog::warn("{}: request of {} bytes is shorter than a request header", info.peer,
                 frame.size());
    return done(net::reply::close());
  }
  int16_t api_key = be::load_i16(frame.data());
  int16_t version = be::load_i16(frame.data() + 2);
  int32_t correlation_id = be::load_i32(frame.data() + 4);

  const handler* h = find_handler(api_key);
  const api_metrics& m = api_metrics_for(api_key);
  m.requests->inc();
  if (h == nullptr || version < h->min_version || version > h->max_version) {
    m.errors->inc();
    if (api_key == kApiVersionsKey && version > 0) {
      return done(net::reply::send(api_versions_fallback(correlation_id)));
    }
    return done(refuse(info, frame, api_key, version, correlation_id));
  }

  // Records fields borrow from the frame (no copy): a handler that keeps them keeps the frame.
  wire::reader r(frame, std::move(request.data));
  request_context ctx{info, {}, _cfg, *this, m.errors};
  ctx.header.decode(r, kafka::request_header_version(api_key, version));
  if (!r.ok()) {
    m.errors->inc();
    spdlog::warn("{}: malformed request header ({})", info.peer,
                 make_error_code(r.error()).message());
    return done(net::reply::close());
  }
  int16_t resp_header_version = kafka::response_header_version(api_key, version);
  // The frame must outlive the reader; the handler may complete after dispatch() returns, but it
  // decodes the body synchronously inside handle().
  const auto started = std::chrono::steady_clock::now();
  bool ok = h->handle(ctx, r,
                      [done, correlation_id, resp_header_version, latency = m.latency,
                       started](std::optional<encoded_body> body) {
                        latency->observe(std::chrono::steady_clock::now() - started);
                        if (!body) return done(net::reply::none());
                        done(framed(correlation_id, resp_header_version, std::move(*body)));
                      });
  if (!ok) {
    m.errors->inc();
    spdlog::warn("{}: malformed {} v{} request ({})", info.peer, kafka::find_api(api_key)->name,
                 version, make_error_code(r.ok() ? errc::invalid_data : r.error()).message());
    done(net::reply::close());
  }
}

}  // namespace sluice::broker
