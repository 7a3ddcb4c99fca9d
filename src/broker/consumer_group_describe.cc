// ConsumerGroupDescribe (key 69, v0): KIP-848 groups with their epochs, assignor, and each
// member's subscription, current assignment and target assignment. A missing group, or one of
// the classic kind, is GROUP_ID_NOT_FOUND (as Kafka).

#include "kafka/consumer_group_describe.h"

#include <memory>

#include "src/broker/fan_out.h"
#include "src/broker/group_requests.h"
#include "src/broker/handler.h"
#include "src/broker/topic_view.h"

namespace sluice::broker {
namespace {

using kafka::consumer_group_describe_request;
using kafka::consumer_group_describe_response;
using described = consumer_group_describe_response::described_group;

void fill_assignment(consumer_group_describe_response::assignment_data& out,
                     const coordinator::topic_assignment& a, const coordinator::topic_view& view) {
  for (const auto& [tid, parts] : a) {
    auto& tp = out.topic_partitions.emplace_back();
    tp.topic_id = tid;
    auto name = view.names.find(tid);
    tp.topic_name = name == view.names.end() ? "" : name->second;
    tp.partitions.assign(parts.begin(), parts.end());
  }
}

// Runs on the group's owner shard.
described describe(coordinator::shard_groups& sg, const std::string& id,
                   const coordinator::topic_view& view, bool with_ops) {
  described g;
  g.group_id = id;
  const coordinator::consumer_group* cg = sg.find_consumer_group(id);
  if (!cg) {
    g.error_code = kafka::code(kafka::error::group_id_not_found);
    g.error_message = "Group " + id + " not found.";
    return g;
  }
  g.error_message = std::nullopt;
  g.group_state = std::string(coordinator::state_name(cg->state()));
  g.group_epoch = cg->group_epoch();
  g.assignment_epoch = cg->assignment_epoch();
  g.assignor_name = std::string(coordinator::assignor_name(cg->preferred_assignor()));
  for (const auto& [mid, m] : cg->members()) {
    auto& o = g.members.emplace_back();
    o.member_id = mid;
    o.instance_id = m.instance_id;
    o.rack_id = m.rack_id;
    o.member_epoch = m.current.member_epoch;
    o.client_id = m.client_id;
    o.client_host = m.client_host;
    o.subscribed_topic_names = m.subscribed_topic_names;
    o.subscribed_topic_regex = m.subscribed_topic_regex;
    fill_assignment(o.assignment, m.current.assigned, view);
    fill_assignment(o.target_assignment, cg->target_of(mid), view);
  }
  if (with_ops) g.authorized_operations = kAllGroupOperations;
  return g;
}

void handle(request_context& ctx, consumer_group_describe_request& req,
            responder<consumer_group_describe_response> reply) {
  auto all =
      fan_out<consumer_group_describe_response>::start(ctx.owner, ctx.conn.shard, std::move(reply));
  all->value.groups.resize(req.group_ids.size());
  auto view = current_topic_view(ctx.owner.topics());
  const bool with_ops = req.include_authorized_operations;
  for (size_t i = 0; i < req.group_ids.size(); ++i) {
    const std::string id = req.group_ids[i];
    ctx.owner.groups().call<described>(
        ctx.conn.shard, id,
        [id, view, with_ops](coordinator::shard_groups& sg, std::function<void(described)> done) {
          done(describe(sg, id, *view, with_ops));
        },
        all->answer([&slot = all->value.groups[i]](auto&, described g) { slot = std::move(g); }));
  }
  all->seal();
}

}  // namespace

extern const handler consumer_group_describe_handler = {
    consumer_group_describe_request::api_key, 0, 0,
    &typed_handle<consumer_group_describe_request, consumer_group_describe_response, &handle>};

}  // namespace sluice::broker
