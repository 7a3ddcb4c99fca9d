#include "src/cli/raw_request.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <set>

#include "kafka/describe_log_dirs.h"
#include "src/base/byte_order.h"

namespace sluice::cli {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr int32_t kMaxResponse = 64 << 20;

}  // namespace

outcome<wire::bytes> exchange(const broker_info& b, const wire::bytes& frame,
                              std::chrono::milliseconds timeout) {
  asio::io_context io;
  tcp::socket sock(io);
  tcp::resolver resolver(io);
  boost::system::error_code failed;
  std::array<uint8_t, 4> size_buf{};
  wire::bytes body;
  bool done = false;
  auto on_error = [&](const boost::system::error_code& ec) {
    failed = ec;
    done = true;
  };
  resolver.async_resolve(b.host, std::to_string(b.port),
                         [&](auto ec, tcp::resolver::results_type results) {
                           if (ec) return on_error(ec);
                           asio::async_connect(sock, results, [&](auto ec, const tcp::endpoint&) {
                             if (ec) return on_error(ec);
                             asio::async_write(sock, asio::buffer(frame), [&](auto ec, size_t) {
                               if (ec) return on_error(ec);
                               asio::async_read(sock, asio::buffer(size_buf), [&](auto ec, size_t) {
                                 if (ec) return on_error(ec);
                                 const int32_t n = be::load_i32(size_buf.data());
                                 if (n < 4 || n > kMaxResponse)
                                   return on_error(asio::error::message_size);
                                 body.resize(static_cast<size_t>(n));
                                 asio::async_read(sock, asio::buffer(body), [&](auto ec, size_t) {
                                   if (ec) return on_error(ec);
                                   done = true;
                                 });
                               });
                             });
                           });
                         });
  io.run_for(timeout);
  const std::string where = b.host + ":" + std::to_string(b.port);
  if (!done) {
    return fail("REQUEST_TIMED_OUT: request to broker " + std::to_string(b.id) + " at " + where +
                " took longer than " + std::to_string(timeout.count()) + " ms");
  }
  if (failed) {
    return fail("NETWORK_EXCEPTION: request to broker " + std::to_string(b.id) + " at " + where +
                ": " + failed.message());
  }
  return body;
}

outcome<std::map<int32_t, int64_t>> partition_sizes(const cluster_metadata& md,
                                                    const topic_info& topic,
                                                    std::chrono::milliseconds timeout) {
  std::map<int32_t, std::set<int32_t>> by_leader;  // broker id -> partitions it leads
  for (const auto& p : topic.partitions) {
    if (p.leader >= 0) by_leader[p.leader].insert(p.id);
  }
  std::map<int32_t, int64_t> sizes;
  for (const auto& [leader, parts] : by_leader) {
    const broker_info* b = nullptr;
    for (const auto& x : md.brokers) {
      if (x.id == leader) b = &x;
    }
    if (b == nullptr) {
      return fail("BROKER_NOT_AVAILABLE: leader " + std::to_string(leader) + " of " + topic.name +
                  " is not in the metadata");
    }
    kafka::describe_log_dirs_request req;
    req.topics = std::vector<kafka::describe_log_dirs_request::describable_log_dir_topic>{
        {topic.name, std::vector<int32_t>(parts.begin(), parts.end()), {}}};
    using req_t = kafka::describe_log_dirs_request;
    CLI_TRY(resp, (raw_call<req_t, kafka::describe_log_dirs_response>(*b, req, 1, timeout)));
    for (const auto& dir : resp.results) {
      if (dir.error_code != 0) {
        return kafka_failure(
            static_cast<rd_kafka_resp_err_t>(dir.error_code),
            "DescribeLogDirs " + dir.log_dir + " on broker " + std::to_string(leader));
      }
      for (const auto& t : dir.topics) {
        if (t.name != topic.name) continue;
        for (const auto& p : t.partitions) {
          if (parts.contains(p.partition_index)) sizes[p.partition_index] += p.partition_size;
        }
      }
    }
  }
  return sizes;
}

}  // namespace sluice::cli
