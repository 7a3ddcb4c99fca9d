// OffsetFetch (key 9, v0-9): committed offsets of one group (v0-7) or several (v8+), all of a
// group's offsets when topics is null (v2+). Partitions without a commit answer offset -1.

#include "kafka/offset_fetch.h"

#include "src/broker/fan_out.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::offset_fetch_request;
using kafka::offset_fetch_response;
using topic_list = std::vector<std::pair<std::string, std::vector<int32_t>>>;

// Groups the flat entries by topic, keeping their order.
template <class Topic, class Fn>
void by_topic(const coordinator::offset_fetch_result& r, std::vector<Topic>& out, Fn fill) {
  for (const auto& e : r.offsets) {
    if (out.empty() || out.back().name != e.topic) out.emplace_back().name = e.topic;
    fill(out.back().partitions.emplace_back(), e);
  }
}

template <class P>
void fill_partition(P& p, const coordinator::offset_fetch_result::entry& e) {
  p.partition_index = e.partition;
  p.committed_offset = e.value.offset;
  p.committed_leader_epoch = e.value.leader_epoch;
  p.metadata = e.value.metadata;
  p.error_code = kafka::code(e.error);  // UNSTABLE_OFFSET_COMMIT (require_stable)
}

void handle(request_context& ctx, offset_fetch_request& req,
            responder<offset_fetch_response> reply) {
  const int16_t version = ctx.version();
  std::vector<std::string> groups;
  std::vector<coordinator::offset_fetch_request> asks;
  auto convert = [](const auto& topics) {
    std::optional<topic_list> out;
    if (topics) {
      out.emplace();
      for (const auto& t : *topics) out->emplace_back(t.name, t.partition_indexes);
    }
    return out;
  };
  if (version < 8) {
    groups.push_back(req.group_id);
    asks.push_back({convert(req.topics), req.require_stable, std::nullopt, -1});
  } else {
    for (const auto& g : req.groups) {
      groups.push_back(g.group_id);
      asks.push_back({convert(g.topics), req.require_stable, g.member_id, g.member_epoch});
    }
  }
  auto finish = [groups, reply, version](std::vector<coordinator::offset_fetch_result> results) {
    offset_fetch_response resp;
    if (version < 8) {
      const auto& r = results.front();
      resp.error_code = kafka::code(r.error);
      by_topic(r, resp.topics, [](auto& p, const auto& e) { fill_partition(p, e); });
      return reply(std::move(resp));
    }
    for (size_t i = 0; i < groups.size(); ++i) {
      auto& g = resp.groups.emplace_back();
      g.group_id = groups[i];
      g.error_code = kafka::code(results[i].error);
      by_topic(results[i], g.topics, [](auto& p, const auto& e) { fill_partition(p, e); });
    }
    reply(std::move(resp));
  };
  auto all = fan_out<std::vector<coordinator::offset_fetch_result>>::start(
      ctx.owner, ctx.conn.shard, std::move(finish));
  all->value.resize(asks.size());
  for (size_t i = 0; i < asks.size(); ++i) {
    ctx.owner.groups().call<coordinator::offset_fetch_result>(
        ctx.conn.shard, groups[i],
        [group = groups[i], ask = std::move(asks[i])](
            coordinator::shard_groups& sg,
            std::function<void(coordinator::offset_fetch_result)> done) {
          done(sg.fetch(group, ask));
        },
        all->answer(
            [i](auto& results, coordinator::offset_fetch_result r) { results[i] = std::move(r); }));
  }
  all->seal();
}

}  // namespace

extern const handler offset_fetch_handler = {
    offset_fetch_request::api_key, 0, 9,
    &typed_handle<offset_fetch_request, offset_fetch_response, &handle>};

}  // namespace sluice::broker
