#include "src/broker/txn_markers.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "src/broker/fan_out.h"
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

}  // namespace

void write_txn_markers(broker& b, unsigned home, const marker_spec& spec,
                       const std::vector<std::pair<std::string, int32_t>>& partitions,
                       std::function<void(std::vector<kafka::error>)> done) {
  auto g = fan_out<std::vector<kafka::error>>::start(b, home, std::move(done));
  g->value.assign(partitions.size(), kafka::error::none);
  auto topics = b.topics().snapshot();
  for (size_t i = 0; i < partitions.size(); ++i) {
    const auto& [name, index] = partitions[i];
    g->on_partition_async(find_partition(*topics, name, index), index, g->value[i],
                          [spec](partition& p, std::function<void(kafka::error)> finish) {
                            write_marker(p, spec, std::move(finish));
                          });
  }
  g->seal();
}

}  // namespace sluice::broker
