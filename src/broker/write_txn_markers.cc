// WriteTxnMarkers (key 27, v1): writes transaction markers (COMMIT/ABORT control batches) to
// partitions, as a transaction coordinator does when a transaction ends, and as operators' tools
// do to complete a hanging transaction.
//
// Each marker is one control batch (records::build_marker_batch) from the producer id and epoch
// given, appended on the partition's owner shard and acknowledged once durable. It closes the
// producer's open transaction there (src/storage/producer_state.h): ABORT adds it to the
// segment's aborted-transactions index (src/storage/txn_index.h) read_committed fetches read;
// either way the last stable offset moves past it. A marker
// older than the producer's epoch is INVALID_PRODUCER_EPOCH; unknown partitions are
// UNKNOWN_TOPIC_OR_PARTITION.

#include "kafka/write_txn_markers.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "src/broker/broker.h"
#include "src/broker/handler.h"
#include "src/broker/partitions.h"
#include "src/protocol/record_batch.h"

namespace sluice::broker {
namespace {

using kafka::write_txn_markers_request;
using kafka::write_txn_markers_response;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct markers_state {
  explicit markers_state(responder<write_txn_markers_response> r) : reply(std::move(r)) {}
  write_txn_markers_response resp;
  size_t pending = 1;
  responder<write_txn_markers_response> reply;
  void one_done() {
    if (--pending == 0) reply(std::move(resp));
  }
};

// Appends one marker to `p` and calls done(error) once it is durable (or failed).
void write_marker(partition& p, int64_t producer_id, int16_t epoch, records::control_type type,
                  int32_t coordinator_epoch, std::function<void(kafka::error)> done) {
  const int64_t now = wall_ms();
  auto batch = records::build_marker_batch(0, producer_id, epoch, records::kNoPartitionLeaderEpoch,
                                           {type, coordinator_epoch}, now);
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

void handle(request_context& ctx, write_txn_markers_request& req,
            responder<write_txn_markers_response> reply) {
  broker& b = ctx.owner;
  auto state = std::make_shared<markers_state>(std::move(reply));
  auto topics = b.topics().snapshot();
  const unsigned home = ctx.conn.shard;
  // Completions write into these slots by pointer: reserve so they never move.
  state->resp.markers.reserve(req.markers.size());
  for (const auto& m : req.markers) {
    auto& mr = state->resp.markers.emplace_back();
    mr.producer_id = m.producer_id;
    mr.topics.reserve(m.topics.size());
    const auto type =
        m.transaction_result ? records::control_type::commit : records::control_type::abort;
    for (const auto& t : m.topics) {
      auto& tr = mr.topics.emplace_back();
      tr.name = t.name;
      tr.partitions.reserve(t.partition_indexes.size());
      auto it = topics->find(t.name);
      for (int32_t index : t.partition_indexes) {
        auto& pr = tr.partitions.emplace_back();
        pr.partition_index = index;
        if (it == topics->end() || index < 0 || index >= it->second->partitions) {
          pr.error_code = kafka::code(kafka::error::unknown_topic_or_partition);
          continue;
        }
        ++state->pending;
        b.with_partition_async<kafka::error>(
            home, it->second, index,
            [pid = m.producer_id, epoch = m.producer_epoch, type,
             coordinator_epoch = m.coordinator_epoch](result<partition*> p,
                                                      std::function<void(kafka::error)> finish) {
              if (!p) {
                return finish(p.error() == errc::not_found
                                  ? kafka::error::unknown_topic_or_partition
                                  : kafka::error::kafka_storage_error);
              }
              write_marker(*p.value(), pid, epoch, type, coordinator_epoch, std::move(finish));
            },
            [state, slot = &pr](kafka::error e) {
              slot->error_code = kafka::code(e);
              state->one_done();
            });
      }
    }
  }
  state->one_done();
}

}  // namespace

extern const handler write_txn_markers_handler = {
    write_txn_markers_request::api_key, 1, 1,
    &typed_handle<write_txn_markers_request, write_txn_markers_response, &handle>};

}  // namespace sluice::broker
