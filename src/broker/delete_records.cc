// DeleteRecords (key 21, v0-2): moves each partition's log start offset up to the requested
// offset (-1: the high watermark). The new start is persisted before the answer; whole segments
// below it go at the next retention pass. Offsets past the log end get OFFSET_OUT_OF_RANGE.

#include "kafka/delete_records.h"

#include "src/broker/fan_out.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::delete_records_request;
using kafka::delete_records_response;
using partition_result =
    delete_records_response::delete_records_topic_result::delete_records_partition_result;

void handle(request_context& ctx, delete_records_request& req,
            responder<delete_records_response> reply) {
  auto g = fan_out<delete_records_response>::start(ctx.owner, ctx.conn.shard, std::move(reply));
  auto topics = ctx.owner.topics().snapshot();
  g->value.topics.reserve(req.topics.size());
  for (const auto& t : req.topics) {
    auto& tr = g->value.topics.emplace_back();
    tr.name = t.name;
    tr.partitions.reserve(t.partitions.size());
    for (const auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      pr.low_watermark = -1;
      g->on_partition(find_partition(*topics, t.name, p.partition_index), p.partition_index, pr,
                      [offset = p.offset](partition& part, partition_result& out) {
                        storage::log& log = part.log();
                        auto start =
                            log.delete_records(offset == -1 ? log.log_end_offset() : offset);
                        if (start) {
                          out.low_watermark = start.value();
                        } else {
                          out.error_code = kafka::code(start.error() == errc::not_found
                                                           ? kafka::error::offset_out_of_range
                                                           : kafka::error::kafka_storage_error);
                        }
                      });
    }
  }
  g->seal();
}

}  // namespace

extern const handler delete_records_handler = {
    delete_records_request::api_key, 0, 2,
    &typed_handle<delete_records_request, delete_records_response, &handle>};

}  // namespace sluice::broker
