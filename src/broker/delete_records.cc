// DeleteRecords (key 21, v0-2): moves each partition's log start offset up to the requested
// offset (-1: the high watermark). The new start is persisted before the answer; whole segments
// below it go at the next retention pass. Offsets past the log end get OFFSET_OUT_OF_RANGE.

#include "kafka/delete_records.h"

#include <memory>

#include "src/broker/broker.h"
#include "src/broker/handler.h"
#include "src/broker/partitions.h"

namespace sluice::broker {
namespace {

using kafka::delete_records_request;
using kafka::delete_records_response;
using partition_result =
    delete_records_response::delete_records_topic_result::delete_records_partition_result;

struct delete_state {
  explicit delete_state(responder<delete_records_response> r) : reply(std::move(r)) {}
  delete_records_response resp;
  size_t pending = 1;
  responder<delete_records_response> reply;
  void one_done() {
    if (--pending == 0) reply(std::move(resp));
  }
};

void handle(request_context& ctx, delete_records_request& req,
            responder<delete_records_response> reply) {
  broker& b = ctx.owner;
  auto state = std::make_shared<delete_state>(std::move(reply));
  auto topics = b.topics().snapshot();
  const unsigned home = ctx.conn.shard;
  state->resp.topics.reserve(req.topics.size());
  for (const auto& t : req.topics) {
    auto& tr = state->resp.topics.emplace_back();
    tr.name = t.name;
    tr.partitions.reserve(t.partitions.size());
    auto it = topics->find(t.name);
    for (const auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      pr.low_watermark = -1;
      if (it == topics->end() || p.partition_index < 0 ||
          p.partition_index >= it->second->partitions) {
        pr.error_code = kafka::code(kafka::error::unknown_topic_or_partition);
        continue;
      }
      ++state->pending;
      b.with_partition(
          home, it->second, p.partition_index,
          [index = p.partition_index, offset = p.offset](result<partition*> part) {
            partition_result out;
            out.partition_index = index;
            out.low_watermark = -1;
            if (!part) {
              out.error_code = kafka::code(lookup_error(part.error()));
              return out;
            }
            storage::log& log = part.value()->log();
            auto start = log.delete_records(offset == -1 ? log.log_end_offset() : offset);
            if (start) {
              out.low_watermark = start.value();
            } else {
              out.error_code =
                  kafka::code(start.error() == errc::not_found ? kafka::error::offset_out_of_range
                                                               : kafka::error::kafka_storage_error);
            }
            return out;
          },
          [state, slot = &pr](partition_result out) {
            *slot = std::move(out);
            state->one_done();
          });
    }
  }
  state->one_done();
}

}  // namespace

extern const handler delete_records_handler = {
    delete_records_request::api_key, 0, 2,
    &typed_handle<delete_records_request, delete_records_response, &handle>};

}  // namespace sluice::broker
