#include "src/broker/txn_markers.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "src/broker/broker.h"
#include "src/broker/partitions.h"
#include "src/protocol/record_batch.h"

namespace sluice::broker {
namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Appends one marker to `p` and calls done(error) once it is durable (or failed).
void write_marker(partition& p, const marker_spec& spec, std::function<void(kafka::error)> done) {
  const int64_t now = wall_ms();
  const auto type = spec.commit ? records::control_type::commit : records::control_type::abort;
  auto batch = records::build_marker_batch(0, spec.producer_id, spec.producer_epoch,
                                           records::kNoPartitionLeaderEpoch,
                                           {type, spec.coordinator_epoch}, now);
  if (!batch) return done(kafka::error::unknown_server_error);
  auto header = records::parse_batch_header(batch.value());
  if (!header) return done(kafka::error::unknown_server_error);
  if (p.producers.check_marker(header.value()).what != storage::producer_state::verdict::append) {
    return done(kafka::error::invalid_producer_epoch);
  }
  auto r = p.log().append(batch.value(), now);
  if (!r) {
    spdlog::error("marker to {}-{}: {}", p.topic().name, p.index(), r.error().message());
    return done(kafka::error::kafka_storage_error);
  }
  p.snapshot_if_rolled();
  header.value().base_offset = r.value().base_offset;
  if (auto ec = p.apply_marker(header.value(), type, now)) {
    spdlog::error("txn index of {}-{}: {}", p.topic().name, p.index(), ec.message());
  }
  p.notify_appended();
  p.log().wait_durable(r.value().last_offset, [done = std::move(done)](std::error_code ec) {
    done(ec ? kafka::error::kafka_storage_error : kafka::error::none);
  });
}

struct gather {
  std::vector<kafka::error> errors;
  size_t pending = 1;
  std::function<void(std::vector<kafka::error>)> done;
  void one_done() {
    if (--pending == 0) done(std::move(errors));
  }
};

}  // namespace

void write_txn_markers(broker& b, unsigned home, const marker_spec& spec,
                       const std::vector<std::pair<std::string, int32_t>>& partitions,
                       std::function<void(std::vector<kafka::error>)> done) {
  auto g = std::make_shared<gather>();
  g->errors.assign(partitions.size(), kafka::error::none);
  g->done = std::move(done);
  auto topics = b.topics().snapshot();
  for (size_t i = 0; i < partitions.size(); ++i) {
    const auto& [name, index] = partitions[i];
    auto it = topics->find(name);
    if (it == topics->end() || index < 0 || index >= it->second->partitions) {
      g->errors[i] = kafka::error::unknown_topic_or_partition;
      continue;
    }
    ++g->pending;
    b.with_partition_async<kafka::error>(
        home, it->second, index,
        [spec](result<partition*> p, std::function<void(kafka::error)> finish) {
          if (!p) {
            return finish(p.error() == errc::not_found ? kafka::error::unknown_topic_or_partition
                                                       : kafka::error::kafka_storage_error);
          }
          write_marker(*p.value(), spec, std::move(finish));
        },
        [g, i](kafka::error e) {
          g->errors[i] = e;
          g->one_done();
        });
  }
  g->one_done();
}

}  // namespace sluice::broker
