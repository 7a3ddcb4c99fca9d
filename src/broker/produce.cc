// Produce (key 0, v3-11; v0-2 are refused as Kafka 4 does, though ApiVersions advertises 0).
//
// Each partition's batches are validated and appended on the partition's owner shard; results
// are gathered back on the connection's shard. Pipelined requests keep their order per
// partition because posts to one shard run in order.
//
// Validation, with Kafka's errors: a whole, CRC-valid v2 batch (CORRUPT_MESSAGE),
// max.message.bytes (MESSAGE_TOO_LARGE), CreateTime timestamps within
// message.timestamp.difference.max.ms (INVALID_TIMESTAMP), keys on compacted topics
// (INVALID_RECORD, with the record's index). Batches are stored as received: no recompression.

#include "kafka/produce.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "src/broker/broker.h"
#include "src/broker/handler.h"
#include "src/broker/partitions.h"
#include "src/protocol/record_batch.h"

namespace sluice::broker {
namespace {

using kafka::produce_request;
using kafka::produce_response;

struct partition_outcome {
  int32_t index = 0;
  kafka::error error = kafka::error::none;
  int64_t base_offset = -1;
  int64_t log_start_offset = -1;
  int64_t log_append_time = -1;
  std::vector<std::pair<int32_t, std::string>> record_errors;  // (record index, message)
  std::string message;
};

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Checks what must hold before a batch reaches the log; kafka::error::none when it may be
// appended.
kafka::error validate(const topic_entry& t, const records::batch_view& b, int64_t now,
                      partition_outcome& out) {
  if (!records::crc_ok(b.bytes)) {
    out.message = "Record batch CRC mismatch";
    return kafka::error::corrupt_message;
  }
  if (b.bytes.size() > static_cast<size_t>(t.settings.max_message_bytes)) {
    out.message = "Record batch of " + std::to_string(b.bytes.size()) +
                  " bytes exceeds max.message.bytes " +
                  std::to_string(t.settings.max_message_bytes);
    return kafka::error::message_too_large;
  }
  const bool check_time =
      !t.settings.log_append_time && t.settings.message_timestamp_difference_max_ms != INT64_MAX;
  if (!check_time && !t.settings.cleanup_compact) return kafka::error::none;
  if (b.header.is_control()) return kafka::error::none;
  // Only these checks need the records themselves (and decompression).
  auto decoded = records::decode_records(b.bytes, static_cast<size_t>(64) << 20);
  if (!decoded) {
    out.message = "Invalid records: " + decoded.error().message();
    return kafka::error::corrupt_message;
  }
  for (size_t i = 0; i < decoded.value().records.size(); ++i) {
    const auto& r = decoded.value().records[i];
    if (t.settings.cleanup_compact && !r.key) {
      out.record_errors.emplace_back(static_cast<int32_t>(i),
                                     "Compacted topic cannot accept message without key");
      return kafka::error::invalid_record;
    }
    if (check_time) {
      int64_t ts = decoded.value().timestamp_of(r);
      int64_t diff = ts > now ? ts - now : now - ts;
      if (diff > t.settings.message_timestamp_difference_max_ms) {
        out.record_errors.emplace_back(static_cast<int32_t>(i),
                                       "Timestamp " + std::to_string(ts) + " is out of range");
        return kafka::error::invalid_timestamp;
      }
    }
  }
  return kafka::error::none;
}

// Validates and appends one partition's batches on its owner shard, then calls `done` there:
// at once for acks 0/1, once the data is fdatasync'ed (group commit) for acks=all.
void produce_one(partition& p, wire::bytes& blob, int16_t acks,
                 std::function<void(partition_outcome)> done) {
  partition_outcome out;
  out.index = p.index();
  const int64_t now = wall_ms();
  // Validate every batch first so a request is all-or-nothing per partition.
  std::vector<std::span<uint8_t>> batches;
  records::batch_iterator it(blob);
  while (const auto* b = it.next()) {
    if (auto e = validate(p.topic(), *b, now, out); e != kafka::error::none) {
      out.error = e;
      return done(std::move(out));
    }
    auto offset = static_cast<size_t>(b->bytes.data() - blob.data());
    batches.emplace_back(blob.data() + offset, b->bytes.size());
  }
  if (it.error() != errc::ok || it.partial() || batches.empty()) {
    out.error = kafka::error::corrupt_message;
    out.message = "Records are not a sequence of whole record batches";
    return done(std::move(out));
  }
  int64_t last = -1;
  for (size_t i = 0; i < batches.size(); ++i) {
    auto r = p.log().append(batches[i], now);
    if (!r) {
      spdlog::error("append to {}-{}: {}", p.topic().name, p.index(), r.error().message());
      out.error = kafka::error::kafka_storage_error;
      out.message = r.error().message();
      if (i == 0) return done(std::move(out));
      break;  // earlier batches are in: report the error, as Kafka does for a failed append
    }
    if (i == 0) {
      out.base_offset = r.value().base_offset;
      out.log_append_time = r.value().log_append_time;
    }
    last = r.value().last_offset;
  }
  p.notify_appended();
  out.log_start_offset = p.log().log_start_offset();
  if (acks != -1 || out.error != kafka::error::none) return done(std::move(out));
  // Durable before acknowledged: one fdatasync serves every waiter that arrived before it.
  p.log().wait_durable(last,
                       [out = std::move(out), done = std::move(done)](std::error_code ec) mutable {
                         if (ec) {
                           out.error = kafka::error::kafka_storage_error;
                           out.message = "fdatasync failed: " + ec.message();
                         }
                         done(std::move(out));
                       });
}

// Gathers per-partition outcomes on the connection's shard.
struct produce_state {
  explicit produce_state(responder<produce_response> r) : reply(std::move(r)) {}
  produce_response resp;
  size_t pending = 0;
  responder<produce_response> reply;
  bool respond = true;
};

void handle(request_context& ctx, produce_request& req, responder<produce_response> reply) {
  broker& b = ctx.owner;
  auto state = std::make_shared<produce_state>(std::move(reply));
  state->respond = req.acks != 0;
  const unsigned home = ctx.conn.shard;
  auto finish_one = [state]() {
    if (--state->pending != 0) return;
    if (state->respond) {
      state->reply(std::move(state->resp));
    } else {
      state->reply.none();
    }
  };

  if (req.acks != 0 && req.acks != 1 && req.acks != -1) {
    for (auto& t : req.topic_data) {
      auto& tr = state->resp.responses.emplace_back();
      tr.name = t.name;
      for (auto& pd : t.partition_data) {
        auto& pr = tr.partition_responses.emplace_back();
        pr.index = pd.index;
        pr.error_code = kafka::code(kafka::error::invalid_required_acks);
      }
    }
    return state->reply(std::move(state->resp));
  }

  auto topics = b.topics().snapshot();
  state->pending = 1;  // released at the end, so completions can't finish early
  // Completions write into these slots by pointer: reserve so they never move.
  state->resp.responses.reserve(req.topic_data.size());
  for (auto& t : req.topic_data) {
    auto& tr = state->resp.responses.emplace_back();
    tr.name = t.name;
    tr.partition_responses.reserve(t.partition_data.size());
    auto it = topics->find(t.name);
    for (auto& pd : t.partition_data) {
      auto& pr = tr.partition_responses.emplace_back();
      pr.index = pd.index;
      if (it == topics->end() || pd.index < 0 || pd.index >= it->second->partitions) {
        pr.error_code = kafka::code(kafka::error::unknown_topic_or_partition);
        continue;
      }
      if (!pd.records || pd.records->empty()) {
        pr.error_code = kafka::code(kafka::error::corrupt_message);
        continue;
      }
      ++state->pending;
      auto* slot = &pr;
      unsigned owner = owner_shard(t.name, pd.index, b.shard_count());
      // Runs inline when the partition is on this shard: `slot` points into reserved storage
      // and `pending` holds the reply back until the loop is done, so that is safe.
      b.run_on(owner, [&b, home, owner, topic = it->second, index = pd.index,
                       blob = std::move(*pd.records), acks = req.acks, slot, finish_one]() mutable {
        auto reply_home = [&b, home, slot, finish_one, name = topic->name,
                           index](partition_outcome out) {
          if (out.error != kafka::error::none) {
            spdlog::debug("produce to {}-{} failed: {} {}", name, index, kafka::code(out.error),
                          out.message);
          }
          b.run_on(home, [slot, out = std::move(out), finish_one]() mutable {
            slot->error_code = kafka::code(out.error);
            slot->base_offset = out.base_offset;
            slot->log_append_time_ms = out.log_append_time;
            slot->log_start_offset = out.log_start_offset;
            if (!out.message.empty()) slot->error_message = out.message;
            for (auto& [i, msg] : out.record_errors) {
              auto& re = slot->record_errors.emplace_back();
              re.batch_index = i;
              re.batch_index_error_message = std::move(msg);
            }
            finish_one();
          });
        };
        auto p = b.partitions(owner).get(topic, index);
        if (!p) {
          partition_outcome out;
          out.index = index;
          out.error = lookup_error(p.error());
          out.message = p.error().message();
          return reply_home(std::move(out));
        }
        produce_one(*p.value(), blob, acks, std::move(reply_home));
      });
    }
  }
  finish_one();
}

}  // namespace

extern const handler produce_handler = {produce_request::api_key, 3, 11,
                                        &typed_handle<produce_request, produce_response, &handle>,
                                        /*advertised_min_version=*/0};

}  // namespace sluice::broker
