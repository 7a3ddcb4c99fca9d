// Produce (key 0, v3-11; v0-2 are refused as Kafka 4 does, though ApiVersions advertises 0).
//
// Each partition's batches are validated and appended on the partition's owner shard; results
// are gathered back on the connection's shard. Pipelined requests keep their order per
// partition because posts to one shard run in order.
//
// Validation, with Kafka's errors: a whole, CRC-valid v2 batch (CORRUPT_MESSAGE),
// max.message.bytes (MESSAGE_TOO_LARGE), CreateTime timestamps within
// message.timestamp.difference.max.ms (INVALID_TIMESTAMP), keys on compacted topics
// (INVALID_RECORD, with the record's index), no control batches (INVALID_RECORD: markers are
// written by WriteTxnMarkers). Batches are stored as received: no recompression.
//
// Idempotent producers (batches with a producer id): the partition's producer state
// (src/storage/producer_state.h) refuses older epochs (INVALID_PRODUCER_EPOCH) and sequence gaps
// (OUT_OF_ORDER_SEQUENCE_NUMBER), and answers a retry of one of the producer's last five batches
// with that batch's original base offset without writing it again (after it is durable, for
// acks=all), as Kafka 4 does.

#include "kafka/produce.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <span>

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
// appended, with `checked` set (the CRC is verified here, once: the log trusts checked batches).
kafka::error validate(const topic_entry& t, std::span<uint8_t> bytes, int64_t now,
                      partition_outcome& out, std::optional<records::checked_batch>& checked) {
  auto c = records::check_batch(bytes);
  if (!c) {
    out.message = "Record batch CRC mismatch";
    return kafka::error::corrupt_message;
  }
  const records::batch_view b{c.value().header(), bytes};
  if (b.bytes.size() > static_cast<size_t>(t.settings.max_message_bytes)) {
    out.message = "Record batch of " + std::to_string(b.bytes.size()) +
                  " bytes exceeds max.message.bytes " +
                  std::to_string(t.settings.max_message_bytes);
    return kafka::error::message_too_large;
  }
  const bool check_time =
      !t.settings.log_append_time && t.settings.message_timestamp_difference_max_ms != INT64_MAX;
  if (b.header.is_control()) {
    // Markers come from WriteTxnMarkers only: they decide what read_committed consumers see.
    out.message = "Clients are not allowed to write control records";
    return kafka::error::invalid_record;
  }
  checked = c.value();
  if (!check_time && !t.settings.cleanup_compact) return kafka::error::none;
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
void produce_one(partition& p, std::span<uint8_t> blob, int16_t acks,
                 std::function<void(partition_outcome)> done) {
  partition_outcome out;
  out.index = p.index();
  const int64_t now = wall_ms();
  // Validate every batch first so a request is all-or-nothing per partition.
  std::vector<records::checked_batch> batches;
  std::vector<records::batch_header> headers;
  records::batch_iterator it(blob);
  while (const auto* b = it.next()) {
    auto offset = static_cast<size_t>(b->bytes.data() - blob.data());
    std::optional<records::checked_batch> checked;
    auto e = validate(p.topic(), blob.subspan(offset, b->bytes.size()), now, out, checked);
    if (e != kafka::error::none) {
      out.error = e;
      return done(std::move(out));
    }
    batches.push_back(*checked);
    headers.push_back(b->header);
  }
  if (it.error() != errc::ok || it.partial() || batches.empty()) {
    out.error = kafka::error::corrupt_message;
    out.message = "Records are not a sequence of whole record batches";
    return done(std::move(out));
  }
  int64_t last = -1;
  for (size_t i = 0; i < batches.size(); ++i) {
    // Idempotence: the producer's epoch and sequence decide before anything is written.
    auto d = p.producers.check(headers[i]);
    if (d.what == storage::producer_state::verdict::duplicate) {
      // Already in the log (a retry): answer with where it went, write nothing.
      spdlog::debug("{}-{}: duplicate batch of producer {} (sequences {}..{}) is at offset {}",
                    p.topic().name, p.index(), headers[i].producer_id, d.original.first_seq,
                    d.original.last_seq, d.original.first_offset);
      if (i == 0) out.base_offset = d.original.first_offset;
      last = std::max(last, d.original.last_offset);
      continue;
    }
    if (d.what != storage::producer_state::verdict::append) {
      out.error = d.what == storage::producer_state::verdict::invalid_epoch
                      ? kafka::error::invalid_producer_epoch
                      : kafka::error::out_of_order_sequence_number;
      out.message = std::move(d.message);
      if (i == 0) return done(std::move(out));
      break;
    }
    const int32_t records = batches[i].header().records_count;
    auto r = p.log().append(batches[i], now);
    if (!r) {
      spdlog::error("append to {}-{}: {}", p.topic().name, p.index(), r.error().message());
      out.error = kafka::error::kafka_storage_error;
      out.message = r.error().message();
      if (i == 0) return done(std::move(out));
      break;  // earlier batches are in: report the error, as Kafka does for a failed append
    }
    p.snapshot_if_rolled();
    headers[i].base_offset = r.value().base_offset;
    p.producers.apply(headers[i], now);
    if (i == 0) {
      out.base_offset = r.value().base_offset;
      out.log_append_time = r.value().log_append_time;
    }
    last = r.value().last_offset;
    p.metrics().bytes_in.inc(batches[i].bytes().size());
    p.metrics().messages_in.inc(static_cast<uint64_t>(std::max(records, 0)));
  }
  p.notify_appended();
  out.log_start_offset = p.log().log_start_offset();
  if (acks != -1 || out.error != kafka::error::none) return done(std::move(out));
  // Durable before acknowledged: one fdatasync serves every waiter that arrived before it.
  produce_purgatory().add();
  p.log().wait_durable(last,
                       [out = std::move(out), done = std::move(done)](std::error_code ec) mutable {
                         produce_purgatory().sub();
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
      if (pd.records.size() == 0 || pd.records.file) {
        pr.error_code = kafka::code(kafka::error::corrupt_message);
        continue;
      }
      ++state->pending;
      b.with_partition_async<partition_outcome>(
          home, it->second, pd.index,
          // The records stay in the request frame (borrowed): the log writes them from there.
          [blob = std::move(pd.records), acks = req.acks, index = pd.index](
              result<partition*> p, std::function<void(partition_outcome)> finish) mutable {
            if (!p) {
              partition_outcome out;
              out.index = index;
              out.error = lookup_error(p.error());
              out.message = p.error().message();
              return finish(std::move(out));
            }
            produce_one(*p.value(), blob.mutable_view(), acks, std::move(finish));
          },
          [slot = &pr, finish_one, name = t.name](partition_outcome out) {
            if (out.error != kafka::error::none) {
              spdlog::debug("produce to {}-{} failed: {} {}", name, out.index,
                            kafka::code(out.error), out.message);
            }
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
    }
  }
  finish_one();
}

}  // namespace

extern const handler produce_handler = {produce_request::api_key, 3, 11,
                                        &typed_handle<produce_request, produce_response, &handle>,
                                        /*advertised_min_version=*/0};

}  // namespace sluice::broker
