// shard_groups' transactional offsets: TxnOffsetCommit holds offsets pending per producer id
// until the transaction coordinator (src/coordinator/txn) ends the transaction. Pending offsets
// are written (synced) under meta::pending_offset_key before TxnOffsetCommit is answered, so a
// transaction committed after a restart still carries them; OffsetFetch with require_stable
// answers UNSTABLE_OFFSET_COMMIT for a partition that has one (Kafka's behaviour).

#include <spdlog/spdlog.h>

#include "proto/sluice/meta.pb.h"
#include "src/coordinator/group/group_manager.h"
#include "src/meta/keys.h"

namespace sluice::coordinator {

using kafka::error;

bool shard_groups::has_pending(const std::string& group,
                               const std::pair<std::string, int32_t>& tp) const {
  auto it = _pending_txn.find(group);
  if (it == _pending_txn.end()) return false;
  for (const auto& [pid, offsets] : it->second) {
    if (offsets.count(tp)) return true;
  }
  return false;
}

void shard_groups::adopt_pending(const std::string& group, int64_t producer_id,
                                 std::pair<std::string, int32_t> tp, committed_offset v) {
  _pending_txn[group][producer_id][std::move(tp)] = std::move(v);
}

void shard_groups::txn_commit(const std::string& group, int64_t producer_id,
                              offset_commit_request req, commit_callback done) {
  const size_t n = req.offsets.size();
  if (group.empty()) return done(std::vector<error>(n, error::invalid_group_id));
  // Kafka checks membership only when the producer says who it is (v3+ with a generation).
  if (req.generation >= 0 || !req.member_id.empty() || req.instance_id) {
    group_entry* e = find(group);
    error err = error::none;
    if (e == nullptr) {
      err = error::illegal_generation;
    } else if (e->classic) {
      err = e->classic->validate_offset_commit(req.member_id, req.instance_id, req.generation);
    } else if (e->consumer) {
      err = e->consumer->validate_offset_commit(req.member_id, req.generation, 9);
    }
    if (err != error::none) return done(std::vector<error>(n, err));
  }
  write_offsets(
      group, std::move(req), meta::cf::producers,
      [&group, producer_id](const std::string& topic, int32_t partition) {
        return meta::pending_offset_key(group, producer_id, topic, partition);
      },
      [this, group, producer_id](offset_commit_request::entry& o) {
        _pending_txn[group][producer_id][{o.topic, o.partition}] = std::move(o.value);
      },
      std::move(done));
}

void shard_groups::complete_txn(const std::string& group, int64_t producer_id, bool commit,
                                std::function<void(error)> done) {
  auto git = _pending_txn.find(group);
  if (git == _pending_txn.end()) return done(error::none);
  auto pit = git->second.find(producer_id);
  if (pit == git->second.end()) return done(error::none);
  offset_map offsets = std::move(pit->second);
  git->second.erase(pit);
  if (git->second.empty()) _pending_txn.erase(git);
  meta::write_batch b;
  for (const auto& [tp, v] : offsets) {
    if (auto k = meta::pending_offset_key(group, producer_id, tp.first, tp.second)) {
      b.del(meta::cf::producers, k.value());
    }
    if (!commit) continue;
    if (auto k = meta::offset_key(group, tp.first, tp.second)) {
      b.put(meta::cf::group_offsets, k.value(), encode_offset(v));
    }
  }
  // Taken out of the pending set at once (require_stable then shows the old committed offset
  // until the write lands, which is what a reader before the marker would see anyway).
  _owner.writer().submit(
      std::move(b), [this, group, producer_id, commit, offsets = std::move(offsets),
                     done = std::move(done)](std::error_code ec) mutable {
        _owner.post(_shard, [this, group, producer_id, commit, offsets = std::move(offsets),
                             done = std::move(done), ec]() mutable {
          if (ec) {
            spdlog::error("group {}: transaction end not written: {}", group, ec.message());
            // Still pending (on disk too): the coordinator retries.
            _pending_txn[group][producer_id].merge(offsets);
            return done(error::coordinator_not_available);
          }
          if (commit) {
            group_entry& e = get_or_create(group);
            for (auto& [tp, v] : offsets) e.offsets[tp] = std::move(v);
          }
          done(error::none);
        });
      });
}

}  // namespace sluice::coordinator
