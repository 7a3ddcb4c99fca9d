#include "src/coordinator/group/directory.h"

#include <algorithm>

#include "kafka/consumer_protocol.h"

namespace sluice::coordinator {

namespace {

std::vector<std::pair<std::string, std::vector<int32_t>>> named(const topic_assignment& a,
                                                                const topic_view& topics) {
  std::vector<std::pair<std::string, std::vector<int32_t>>> out;
  for (const auto& [id, parts] : a) {
    auto name = topics.names.find(id);
    out.emplace_back(name == topics.names.end() ? "" : name->second,
                     std::vector<int32_t>(parts.begin(), parts.end()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> decode_consumer_assignment(
    const bytes& b) {
  std::vector<std::pair<std::string, std::vector<int32_t>>> out;
  if (b.empty()) return out;
  wire::reader r(b.data(), b.size());
  const int16_t version = r.read_int16();
  if (!r.ok() || version < 0) return std::nullopt;
  kafka::consumer_protocol_assignment a;
  a.decode(r, std::min(version, kafka::consumer_protocol_assignment::max_version));
  if (!r.ok()) return std::nullopt;
  for (auto& tp : a.assigned_partitions) {
    out.emplace_back(std::move(tp.topic), std::move(tp.partitions));
  }
  return out;
}

std::optional<group_view> view_of(shard_groups& sg, const std::string& group_id,
                                  const topic_view& topics) {
  const group_entry* e = sg.find(group_id);
  if (e == nullptr) return std::nullopt;
  group_view v;
  v.group_id = group_id;
  if (e->consumer) {
    const consumer_group& g = *e->consumer;
    v.state = std::string(state_name(g.state()));
    v.protocol_type = "consumer";
    v.protocol = std::string(assignor_name(g.preferred_assignor()));
    for (const auto& [id, m] : g.members()) {
      v.members.push_back({id, m.client_id, m.client_host, named(m.current.assigned, topics)});
    }
  } else if (e->classic) {
    const classic_group& g = *e->classic;
    if (g.state() == group_state::dead) return std::nullopt;
    v.state = std::string(state_name(g.state()));
    v.protocol_type = g.protocol_type();
    v.protocol = g.protocol_name().value_or("");
    // Assignments are the leader's, handed out at SyncGroup: meaningful once Stable.
    const bool decode = g.state() == group_state::stable && g.protocol_type() == "consumer";
    for (const auto& m : g.members()) {
      group_member_view mv{m->id, m->client_id, m->client_host, {}};
      if (decode) {
        if (auto a = decode_consumer_assignment(m->assignment)) mv.assignments = std::move(*a);
      }
      v.members.push_back(std::move(mv));
    }
  } else {
    return std::nullopt;
  }
  for (const auto& [tp, off] : e->offsets) {
    v.offsets.push_back({tp.first, tp.second, off.offset});
  }
  return v;
}

group_directory_adapter::group_directory_adapter(group_manager& groups, topics_fn topics,
                                                 std::chrono::milliseconds timeout)
    : _groups(groups), _topics(std::move(topics)), _timeout(timeout) {}

std::vector<group_view> group_directory_adapter::list() {
  auto topics = _topics();
  std::vector<group_view> out;
  for (unsigned s = 0; s < _groups.shard_count(); ++s) {
    auto got = net::wait_on_shard<std::vector<group_view>>(_groups, s, _timeout, [this, s, topics] {
      shard_groups& sg = _groups.on_shard(s);
      std::vector<group_view> views;
      for (const auto& l : sg.list()) {
        if (auto v = view_of(sg, l.group_id, *topics)) views.push_back(std::move(*v));
      }
      return views;
    });
    if (got)
      out.insert(out.end(), std::make_move_iterator(got->begin()),
                 std::make_move_iterator(got->end()));
  }
  std::sort(out.begin(), out.end(),
            [](const group_view& a, const group_view& b) { return a.group_id < b.group_id; });
  return out;
}

std::optional<group_view> group_directory_adapter::describe(const std::string& group_id) {
  auto topics = _topics();
  const unsigned owner = _groups.owner_of(group_id);
  auto got = net::wait_on_shard<std::optional<group_view>>(
      _groups, owner, _timeout, [this, owner, group_id, topics] {
        return view_of(_groups.on_shard(owner), group_id, *topics);
      });
  if (!got) return std::nullopt;
  return std::move(*got);
}

}  // namespace sluice::coordinator
