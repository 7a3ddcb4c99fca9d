// OffsetDelete (key 47, v0): removes committed offsets of a group that is Empty, or of topics a
// consumer-protocol group does not subscribe to (GROUP_SUBSCRIBED_TO_TOPIC otherwise).

#include "kafka/offset_delete.h"

#include <memory>

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::offset_delete_request;
using kafka::offset_delete_response;
using result_t = std::pair<kafka::error, std::vector<kafka::error>>;

void handle(request_context& ctx, offset_delete_request& req,
            responder<offset_delete_response> reply) {
  auto topics = ctx.owner.topics().snapshot();
  auto resp = std::make_shared<offset_delete_response>();
  std::vector<
      offset_delete_response::offset_delete_response_topic::offset_delete_response_partition*>
      slots;
  std::vector<std::pair<std::string, int32_t>> parts;
  for (const auto& t : req.topics) {
    auto& rt = resp->topics.emplace_back();
    rt.name = t.name;
    rt.partitions.reserve(t.partitions.size());
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      if (!find_partition(*topics, t.name, p.partition_index)) {
        rp.error_code = kafka::code(kafka::error::unknown_topic_or_partition);
        continue;
      }
      slots.push_back(&rp);
      parts.emplace_back(t.name, p.partition_index);
    }
  }
  ctx.owner.groups().call<result_t>(
      ctx.conn.shard, req.group_id,
      [group = req.group_id, parts = std::move(parts)](coordinator::shard_groups& sg,
                                                       std::function<void(result_t)> done) {
        sg.delete_offsets(group, parts, [done](kafka::error e, std::vector<kafka::error> errs) {
          done({e, std::move(errs)});
        });
      },
      [reply, resp, slots = std::move(slots)](result_t r) {
        resp->error_code = kafka::code(r.first);
        if (r.first != kafka::error::none) resp->topics.clear();
        for (size_t i = 0; i < slots.size() && i < r.second.size(); ++i) {
          slots[i]->error_code = kafka::code(r.second[i]);
        }
        reply(std::move(*resp));
      });
}

}  // namespace

extern const handler offset_delete_handler = {
    offset_delete_request::api_key, 0, 0,
    &typed_handle<offset_delete_request, offset_delete_response, &handle>};

}  // namespace sluice::broker
