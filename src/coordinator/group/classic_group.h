#pragma once
// One classic consumer group (JoinGroup/SyncGroup/Heartbeat/LeaveGroup): a pure state machine.
//
// Contract (Kafka's ClassicGroup / GroupCoordinator semantics):
// - States Empty, PreparingRebalance, CompletingRebalance, Stable, Dead. A rebalance starts when
//   a member joins, leaves, changes its protocols, or its session expires; it completes when
//   every member has rejoined (or the rebalance timeout passed: members that did not rejoin are
//   removed). An Empty group's first rebalance waits group.initial.rebalance.delay.ms, extended
//   by the same delay while new members keep coming, up to the rebalance timeout.
// - Answers to JoinGroup and SyncGroup may come later: the callbacks are kept by the member and
//   called exactly once (with REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, ...
//   when the round is abandoned).
// - No I/O and no clock: every call takes `now_ms` (a monotonic clock); the owner calls tick()
//   once next_deadline() has passed. Member ids come from the injected id source.
// - take_dirty() reports (once) that the persistent part (snapshot()) changed: the owner then
//   writes it to the store.
//
// Thread safety: none; the owning shard is the only caller.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/protocol/kafka_error.h"

namespace sluice::coordinator {

using bytes = std::vector<uint8_t>;

enum class group_state { empty, preparing_rebalance, completing_rebalance, stable, dead };
// Kafka's names ("Empty", "PreparingRebalance", ...), as DescribeGroups/ListGroups report them.
std::string_view state_name(group_state s);

struct group_limits {
  int32_t min_session_timeout_ms = 6000;
  int32_t max_session_timeout_ms = 1800000;
  int32_t initial_rebalance_delay_ms = 3000;
  int32_t max_size = 2147483647;
};

struct protocol {
  std::string name;
  bytes metadata;
};

struct join_request {
  std::string member_id;                   // "" = a new member
  std::optional<std::string> instance_id;  // static membership (KIP-345)
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = 0;
  int32_t session_timeout_ms = 0;
  std::string protocol_type;
  std::vector<protocol> protocols;
  bool require_known_member_id = false;  // JoinGroup v4+ (KIP-394)
  bool static_leader_skip = false;       // v9+: the response may say skip_assignment (KIP-814)
};

struct join_member {
  std::string member_id;
  std::optional<std::string> instance_id;
  bytes metadata;
};

struct join_result {
  kafka::error error = kafka::error::none;
  int32_t generation = -1;
  std::string protocol_type;
  std::optional<std::string> protocol_name;
  std::string leader;
  std::string member_id;
  bool skip_assignment = false;
  std::vector<join_member> members;  // the leader only
};
using join_callback = std::function<void(join_result)>;

struct sync_request {
  std::string member_id;
  std::optional<std::string> instance_id;
  int32_t generation = -1;
  std::optional<std::string> protocol_type;                // v5+
  std::optional<std::string> protocol_name;                // v5+
  std::vector<std::pair<std::string, bytes>> assignments;  // the leader only
};

struct sync_result {
  kafka::error error = kafka::error::none;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  bytes assignment;
};
using sync_callback = std::function<void(sync_result)>;

struct member {
  std::string id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = 0;
  int32_t session_timeout_ms = 0;
  std::vector<protocol> protocols;
  bytes assignment;
  join_callback awaiting_join;
  sync_callback awaiting_sync;
  int64_t deadline_ms = 0;  // session expiry (or the new-member join timeout)
  int64_t joined_ms = 0;
  bool is_new = false;
  // The metadata of `protocol_name`, or empty.
  const bytes& metadata_of(std::string_view protocol_name) const;
};

// The persistent part of a group (written on SyncGroup completion and when it becomes Empty).
struct group_snapshot {
  struct member_record {
    std::string id;
    std::optional<std::string> instance_id;
    std::string client_id;
    std::string client_host;
    int32_t rebalance_timeout_ms = 0;
    int32_t session_timeout_ms = 0;
    bytes subscription;  // metadata of the selected protocol
    bytes assignment;
  };
  std::string protocol_type;
  int32_t generation = 0;
  std::optional<std::string> protocol_name;
  std::string leader;
  int64_t state_wall_ms = 0;  // when it last became Empty (offsets retention)
  std::vector<member_record> members;
};

class classic_group {
 public:
  using id_source = std::function<std::string(std::string_view client_id)>;
  classic_group(std::string id, group_limits limits, id_source new_member_id);
  // A group restored from the store: Stable with its members when it had any, else Empty.
  // Members must heartbeat within their session timeout from `now_ms`.
  static std::unique_ptr<classic_group> restore(std::string id, group_limits limits,
                                                id_source new_member_id, const group_snapshot& s,
                                                int64_t now_ms);

  void join(join_request req, int64_t now_ms, join_callback done);
  void sync(sync_request req, int64_t now_ms, sync_callback done);
  kafka::error heartbeat(std::string_view member_id, const std::optional<std::string>& instance_id,
                         int32_t generation, int64_t now_ms);
  // One member of a LeaveGroup (by member id, or by instance id when member_id is empty).
  kafka::error leave(std::string_view member_id, const std::optional<std::string>& instance_id,
                     int64_t now_ms);
  // Expires sessions, completes delayed joins, removes members that did not sync.
  void tick(int64_t now_ms);
  // The earliest time tick() has work; INT64_MAX when none.
  int64_t next_deadline() const;

  // OffsetCommit checks (Kafka's ClassicGroup.validateOffsetCommit); generation -1 with no
  // member is a "simple" (admin or manual-assignment) commit, allowed only while Empty.
  kafka::error validate_offset_commit(std::string_view member_id,
                                      const std::optional<std::string>& instance_id,
                                      int32_t generation) const;
  // DeleteGroups: only an Empty group may be deleted (NON_EMPTY_GROUP otherwise); it becomes
  // Dead and answers every later call with COORDINATOR_NOT_AVAILABLE / UNKNOWN_MEMBER_ID.
  kafka::error mark_dead();

  const std::string& id() const { return _id; }
  group_state state() const { return _state; }
  int32_t generation() const { return _generation; }
  const std::string& protocol_type() const { return _protocol_type; }
  const std::optional<std::string>& protocol_name() const { return _protocol_name; }
  const std::string& leader() const { return _leader; }
  const std::vector<std::unique_ptr<member>>& members() const { return _members; }
  size_t pending_member_count() const { return _pending.size(); }
  // Topics the members subscribe to, when the protocol type is "consumer" and every member's
  // subscription parses (OffsetDelete); nullopt otherwise.
  std::optional<std::vector<std::string>> subscribed_topics() const;

  bool take_dirty() {
    bool d = _dirty;
    _dirty = false;
    return d;
  }
  group_snapshot snapshot() const;
  // Wall-clock time the group last became Empty (offset retention); set by the owner.
  int64_t empty_since_wall_ms = 0;

 private:
  member* find(std::string_view member_id) const;
  member* find_static(const std::string& instance_id) const;
  bool supports(const join_request& req) const;
  void add_member_and_rebalance(join_request& req, std::string member_id, int64_t now_ms,
                                join_callback done);
  void update_member_and_rebalance(member& m, join_request& req, int64_t now_ms,
                                   join_callback done);
  void static_rejoin(join_request& req, std::string new_id, int64_t now_ms, join_callback done);
  join_result current_generation(const member& m, bool with_members) const;
  void maybe_prepare_rebalance(int64_t now_ms);
  void prepare_rebalance(int64_t now_ms);
  void maybe_complete_join(int64_t now_ms);
  void complete_join(int64_t now_ms);
  void remove_member(std::string_view member_id, int64_t now_ms);
  void propagate_assignments();
  void reset_assignments(kafka::error why);
  std::optional<std::string> select_protocol() const;
  int32_t max_rebalance_timeout() const;
  void transition(group_state s);

  std::string _id;
  group_limits _limits;
  id_source _new_member_id;
  group_state _state = group_state::empty;
  int32_t _generation = 0;
  std::string _protocol_type;
  std::optional<std::string> _protocol_name;
  std::string _leader;
  std::vector<std::unique_ptr<member>> _members;  // join order (the leader's member list order)
  std::vector<std::pair<std::string, int64_t>> _pending;  // MEMBER_ID_REQUIRED ids, deadlines
  std::vector<std::string> _pending_sync;                 // joined this generation, not synced yet
  int64_t _join_deadline = 0;
  int64_t _sync_deadline = 0;
  bool _initial_delay = false;      // the Empty group's first rebalance is being delayed
  int64_t _delay_remaining_ms = 0;  // how much more it may be extended
  bool _new_member_added = false;
  bool _dirty = false;
};

}  // namespace sluice::coordinator
