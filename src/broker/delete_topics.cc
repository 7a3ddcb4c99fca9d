// DeleteTopics (key 20, v1-6): by name, and from v6 by topic id. The topic manager removes the
// topics from the metadata store and the snapshot; then every partition is dropped on its owner
// shard (log closed, directory renamed to *-delete and removed in the background, so a topic
// re-created with the same name starts empty). The answer is sent once every drop has run.
// Unknown topics: UNKNOWN_TOPIC_OR_PARTITION by name, UNKNOWN_TOPIC_ID by id.

#include "kafka/delete_topics.h"

#include "src/broker/fan_out.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::delete_topics_request;
using kafka::delete_topics_response;

void handle(request_context& ctx, delete_topics_request& req,
            responder<delete_topics_response> reply) {
  std::vector<topic_ref> refs;
  if (ctx.version() >= 6) {
    for (const auto& t : req.topics) {
      refs.push_back({t.name.value_or(std::string()), t.topic_id, !t.name.has_value()});
    }
  } else {
    for (auto& n : req.topic_names) refs.push_back({n, {}});
  }
  broker& b = ctx.owner;
  const unsigned home = ctx.conn.shard;
  auto g = fan_out<delete_topics_response>::start(b, home, std::move(reply));
  std::vector<wire::uuid> ids;
  for (const auto& r : refs) ids.push_back(r.id);
  b.topics().remove(std::move(refs), [&b, home, g, ids = std::move(ids)](
                                         std::vector<topic_outcome> outcomes) mutable {
    b.post(home, [&b, home, g, ids = std::move(ids), outcomes = std::move(outcomes)] {
      for (size_t i = 0; i < outcomes.size(); ++i) {
        const topic_outcome& o = outcomes[i];
        auto& r = g->value.responses.emplace_back();
        r.topic_id = ids[i];
        if (o.topic) {
          r.name = o.topic->name;
          r.topic_id = o.topic->id;
        } else if (o.error == kafka::error::unknown_topic_id) {
          r.name = std::nullopt;
        } else {
          r.name = o.name;
        }
        r.error_code = kafka::code(o.error);
        if (o.error != kafka::error::none) {
          r.error_message = o.message;
          continue;
        }
        r.error_message = std::nullopt;
        for (int32_t p = 0; p < o.topic->partitions; ++p) {
          unsigned owner = owner_shard(o.topic->name, p, b.shard_count());
          b.post(owner, [&b, owner, home, topic = o.topic, p, dropped = g->answer()] {
            b.partitions(owner).drop(*topic, p);
            b.post(home, dropped);
          });
        }
      }
      g->seal();
    });
  });
}

}  // namespace

extern const handler delete_topics_handler = {
    delete_topics_request::api_key, 1, 6,
    &typed_handle<delete_topics_request, delete_topics_response, &handle>};

}  // namespace sluice::broker
