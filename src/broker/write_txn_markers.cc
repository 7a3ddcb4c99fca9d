// WriteTxnMarkers (key 27, v1): writes transaction markers (COMMIT/ABORT control batches) to
// partitions, as operators' tools do to complete a hanging transaction. The writing itself is
// txn_markers.h, which the transaction coordinator uses too.

#include "kafka/write_txn_markers.h"

#include "src/broker/fan_out.h"
#include "src/broker/handler.h"
#include "src/broker/txn_markers.h"

namespace sluice::broker {
namespace {

using kafka::write_txn_markers_request;
using kafka::write_txn_markers_response;

void handle(request_context& ctx, write_txn_markers_request& req,
            responder<write_txn_markers_response> reply) {
  auto g = fan_out<write_txn_markers_response>::start(ctx.owner, ctx.conn.shard, std::move(reply));
  // Completions write into these slots by index: every slot exists before the first write.
  g->value.markers.resize(req.markers.size());
  for (size_t m = 0; m < req.markers.size(); ++m) {
    const auto& in = req.markers[m];
    auto& mr = g->value.markers[m];
    mr.producer_id = in.producer_id;
    std::vector<std::pair<std::string, int32_t>> parts;
    for (const auto& t : in.topics) {
      auto& tr = mr.topics.emplace_back();
      tr.name = t.name;
      for (int32_t index : t.partition_indexes) {
        tr.partitions.emplace_back().partition_index = index;
        parts.emplace_back(t.name, index);
      }
    }
    marker_spec spec{in.producer_id, in.producer_epoch, in.transaction_result,
                     in.coordinator_epoch};
    write_txn_markers(ctx.owner, ctx.conn.shard, spec, parts,
                      g->answer([&mr](auto&, std::vector<kafka::error> errs) {
                        size_t i = 0;
                        for (auto& tr : mr.topics) {
                          for (auto& pr : tr.partitions) pr.error_code = kafka::code(errs[i++]);
                        }
                      }));
  }
  g->seal();
}

}  // namespace

extern const handler write_txn_markers_handler = {
    write_txn_markers_request::api_key, 1, 1,
    &typed_handle<write_txn_markers_request, write_txn_markers_response, &handle>};

}  // namespace sluice::broker
