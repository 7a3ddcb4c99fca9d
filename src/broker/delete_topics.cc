// DeleteTopics (key 20, v1-6): by name, and from v6 by topic id. The topic manager removes the
// topics from the metadata store and the snapshot; then every partition is dropped on its owner
// shard (log closed, directory renamed to *-delete and removed in the background, so a topic
// re-created with the same name starts empty). The answer is sent once every drop has run.
// Unknown topics: UNKNOWN_TOPIC_OR_PARTITION by name, UNKNOWN_TOPIC_ID by id.

#include "kafka/delete_topics.h"

#include <memory>

#include "src/broker/broker.h"
#include "src/broker/handler.h"
#include "src/broker/partitions.h"

namespace sluice::broker {
namespace {

using kafka::delete_topics_request;
using kafka::delete_topics_response;

struct delete_state {
  explicit delete_state(responder<delete_topics_response> r) : reply(std::move(r)) {}
  delete_topics_response resp;
  size_t pending = 1;
  responder<delete_topics_response> reply;
  void one_done() {
    if (--pending == 0) reply(std::move(resp));
  }
};

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
  auto state = std::make_shared<delete_state>(std::move(reply));
  std::vector<wire::uuid> ids;
  for (const auto& r : refs) ids.push_back(r.id);
  b.topics().remove(std::move(refs), [&b, home, state, ids = std::move(ids)](
                                         std::vector<topic_outcome> outcomes) mutable {
    b.post(home, [&b, home, state, ids = std::move(ids), outcomes = std::move(outcomes)] {
      for (size_t i = 0; i < outcomes.size(); ++i) {
        const topic_outcome& o = outcomes[i];
        auto& r = state->resp.responses.emplace_back();
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
          ++state->pending;
          unsigned owner = owner_shard(o.topic->name, p, b.shard_count());
          b.post(owner, [&b, owner, home, state, topic = o.topic, p] {
            b.partitions(owner).drop(*topic, p);
            b.post(home, [state] { state->one_done(); });
          });
        }
      }
      state->one_done();
    });
  });
}

}  // namespace

extern const handler delete_topics_handler = {
    delete_topics_request::api_key, 1, 6,
    &typed_handle<delete_topics_request, delete_topics_response, &handle>};

}  // namespace sluice::broker
