#include "src/coordinator/txn/txn_manager.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "proto/sluice/meta.pb.h"
#include "src/meta/keys.h"

namespace sluice::coordinator {
namespace {

using kafka::error;

constexpr auto kTickPeriod = std::chrono::seconds(1);
constexpr int64_t kRetryMs = 1000;

}  // namespace

std::string encode_txn(const transaction& t) {
  meta::TxnRecord r;
  r.set_producer_id(t.producer_id);
  r.set_epoch(t.epoch);
  r.set_last_producer_id(t.last_producer_id);
  r.set_last_epoch(t.last_epoch);
  r.set_timeout_ms(t.timeout_ms);
  r.set_state(static_cast<int32_t>(t.state));
  meta::TxnRecord::Partitions* cur = nullptr;
  for (const auto& [topic, p] : t.partitions) {  // ordered: one entry per topic
    if (cur == nullptr || cur->topic() != topic) {
      cur = r.add_partitions();
      cur->set_topic(topic);
    }
    cur->add_partitions(p);
  }
  for (const auto& g : t.groups) r.add_groups(g);
  r.set_start_ms(t.start_ms);
  r.set_update_ms(t.update_ms);
  return r.SerializeAsString();
}

bool decode_txn(std::string_view id, std::string_view value, transaction& t) {
  meta::TxnRecord r;
  if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
  if (r.state() < 0 || r.state() > static_cast<int32_t>(txn_state::complete_abort)) return false;
  t = transaction{};
  t.id = std::string(id);
  t.producer_id = r.producer_id();
  t.epoch = static_cast<int16_t>(r.epoch());
  t.last_producer_id = r.last_producer_id();
  t.last_epoch = static_cast<int16_t>(r.last_epoch());
  t.timeout_ms = r.timeout_ms();
  t.state = static_cast<txn_state>(r.state());
  for (const auto& tp : r.partitions()) {
    for (int32_t p : tp.partitions()) t.partitions.emplace(tp.topic(), p);
  }
  t.groups.insert(r.groups().begin(), r.groups().end());
  t.start_ms = r.start_ms();
  t.update_ms = r.update_ms();
  return true;
}

// ---- shard_txns ----

const transaction* shard_txns::find(const std::string& id) const {
  auto it = _txns.find(id);
  return it == _txns.end() ? nullptr : &it->second;
}

std::vector<transaction> shard_txns::all() const {
  std::vector<transaction> out;
  out.reserve(_txns.size());
  for (const auto& [id, t] : _txns) out.push_back(t);
  return out;
}

void shard_txns::persist(const std::string& id, transaction before,
                         std::function<void(error)> done) {
  auto it = _txns.find(id);
  meta::write_batch b;
  b.put(meta::cf::producers, meta::txn_key(id), encode_txn(it->second));
  _owner.writer().submit(std::move(b), [this, id, before = std::move(before),
                                        done = std::move(done)](std::error_code ec) mutable {
    _owner.post(_shard, [this, id, before = std::move(before), done = std::move(done), ec] {
      if (ec) {
        spdlog::error("transactional id {}: state not written: {}", id, ec.message());
        _txns[id] = before;
        return done(error::coordinator_not_available);
      }
      done(error::none);
    });
  });
}

void shard_txns::init_producer(const std::string& id, int32_t timeout_ms, int64_t pid,
                               int16_t epoch, std::function<void(init_pid_result)> done) {
  const int64_t now = wall_now_ms();
  if (timeout_ms <= 0 || timeout_ms > _owner.cfg().transaction_max_timeout_ms) {
    return done({error::invalid_transaction_timeout});
  }
  auto answer = [this, id, done](error e) {
    init_pid_result r{e};
    if (e == error::none) {
      const transaction& t = _txns.at(id);
      r.producer_id = t.producer_id;
      r.epoch = t.epoch;
    }
    done(r);
  };
  // A new id, or one whose epoch is exhausted, takes a fresh producer id.
  auto allocate = [this, id, timeout_ms, answer](transaction before) {
    _txns[id].pending = true;
    _owner.ids()([this, id, timeout_ms, answer, before](result<int64_t> pid) {
      _owner.post(_shard, [this, id, timeout_ms, answer, before, pid] {
        transaction& t = _txns[id];
        if (!pid) {
          t = before;
          if (t.producer_id < 0) _txns.erase(id);
          return answer(error::coordinator_not_available);
        }
        t.assign_new_producer(pid.value(), wall_now_ms());
        t.timeout_ms = timeout_ms;
        persist(id, before, [this, id, answer](error e) {
          if (e == error::none) {
            _txns[id].settle();
          } else if (_txns[id].producer_id < 0) {
            _txns.erase(id);
          }
          answer(e);
        });
      });
    });
  };
  auto it = _txns.find(id);
  if (it == _txns.end()) {
    transaction fresh;
    fresh.id = id;
    _txns[id] = fresh;
    return allocate(fresh);
  }
  transaction before = it->second;
  auto out = it->second.init_producer(pid, epoch, timeout_ms, now);
  switch (out.action) {
    case transaction::init_action::reply:
      return answer(out.error);
    case transaction::init_action::allocate:
      return allocate(before);
    case transaction::init_action::write:
      return persist(id, before, [this, id, answer](error e) {
        if (e == error::none) _txns[id].settle();
        answer(e);
      });
    case transaction::init_action::fence_abort:
      spdlog::info("transactional id {}: new producer, aborting the open transaction", id);
      return persist(id, before, [this, id, done](error e) {
        if (e != error::none) return done({e});
        finish(id, [] {});
        done({error::concurrent_transactions});
      });
  }
}

void shard_txns::add_partitions(const std::string& id, int64_t pid, int16_t epoch,
                                std::vector<topic_partition> tps, std::function<void(error)> done) {
  auto it = _txns.find(id);
  if (it == _txns.end()) return done(error::invalid_producer_id_mapping);
  transaction before = it->second;
  auto out = it->second.add_partitions(pid, epoch, tps, wall_now_ms());
  if (out.error != error::none || !out.changed) return done(out.error);
  persist(id, before, [this, id, done](error e) {
    if (e == error::none) _txns[id].settle();
    done(e);
  });
}

error shard_txns::verify_partition(const std::string& id, int64_t pid, int16_t epoch,
                                   const topic_partition& tp) const {
  const transaction* t = find(id);
  if (t == nullptr) return error::invalid_producer_id_mapping;
  return t->verify_partition(pid, epoch, tp);
}

error shard_txns::verify_group(const std::string& id, int64_t pid, int16_t epoch,
                               const std::string& group) const {
  const transaction* t = find(id);
  if (t == nullptr) return error::invalid_producer_id_mapping;
  return t->verify_group(pid, epoch, group);
}

void shard_txns::add_offsets(const std::string& id, int64_t pid, int16_t epoch,
                             const std::string& group, std::function<void(error)> done) {
  auto it = _txns.find(id);
  if (it == _txns.end()) return done(error::invalid_producer_id_mapping);
  transaction before = it->second;
  auto out = it->second.add_group(pid, epoch, group, wall_now_ms());
  if (out.error != error::none || !out.changed) return done(out.error);
  persist(id, before, [this, id, done](error e) {
    if (e == error::none) _txns[id].settle();
    done(e);
  });
}

void shard_txns::end(const std::string& id, int64_t pid, int16_t epoch, bool commit,
                     std::function<void(error)> done) {
  auto it = _txns.find(id);
  if (it == _txns.end()) return done(error::invalid_producer_id_mapping);
  transaction before = it->second;
  auto out = it->second.end(pid, epoch, commit, wall_now_ms());
  if (out.error != error::none || !out.prepare) return done(out.error);
  persist(id, before, [this, id, done](error e) {
    if (e != error::none) return done(e);
    finish(id, [done] { done(error::none); });
  });
}

void shard_txns::finish(const std::string& id, std::function<void()> done) {
  write_markers(id, [this, id, done = std::move(done)] {
    complete_groups(id, [this, id, done] {
      transaction& t = _txns.at(id);
      transaction before = t;
      t.complete(wall_now_ms());
      persist(id, before, [this, id, done](error e) {
        if (e != error::none) {
          // Still PrepareX on disk and in memory: try the completion again later.
          _txns[id].pending = true;
          return retry_later([this, id, done] { finish(id, done); });
        }
        _txns[id].settle();
        done();
      });
    });
  });
}

void shard_txns::write_markers(const std::string& id, std::function<void()> next) {
  const transaction& t = _txns.at(id);
  if (t.partitions.empty()) return next();
  txn_markers m{t.producer_id,
                t.epoch,
                t.state == txn_state::prepare_commit,
                {t.partitions.begin(), t.partitions.end()}};
  _owner.markers()(_shard, std::move(m), [this, id, next](std::vector<error> errs) {
    _owner.post(_shard, [this, id, next, errs = std::move(errs)] {
      for (error e : errs) {
        // A deleted partition needs no marker; a newer epoch there already ended this one.
        if (e == error::none || e == error::unknown_topic_or_partition ||
            e == error::invalid_producer_epoch) {
          continue;
        }
        spdlog::warn("transactional id {}: markers not written ({}), retrying", id, kafka::code(e));
        return retry_later([this, id, next] { write_markers(id, next); });
      }
      next();
    });
  });
}

void shard_txns::complete_groups(const std::string& id, std::function<void()> next) {
  const transaction& t = _txns.at(id);
  if (t.groups.empty()) return next();
  struct gather {
    size_t left;
    bool failed = false;
  };
  auto g = std::make_shared<gather>(gather{t.groups.size()});
  const int64_t pid = t.producer_id;
  const bool commit = t.state == txn_state::prepare_commit;
  for (const auto& group : t.groups) {
    _owner.groups().call<error>(
        _shard, group,
        [group, pid, commit](shard_groups& sg, std::function<void(error)> reply) {
          sg.complete_txn(group, pid, commit, std::move(reply));
        },
        [this, id, next, g](error e) {
          if (e != error::none) g->failed = true;
          if (--g->left > 0) return;
          if (g->failed) return retry_later([this, id, next] { complete_groups(id, next); });
          next();
        });
  }
}

void shard_txns::retry_later(std::function<void()> fn) {
  _owner.post_after(_shard, kRetryMs, std::move(fn));
}

void shard_txns::tick(int64_t wall_ms) {
  const int64_t expiration = _owner.cfg().transactional_id_expiration_ms;
  std::vector<std::string> expired, forgotten;
  for (auto& [id, t] : _txns) {
    if (t.expired(wall_ms)) {
      expired.push_back(id);
    } else if (!t.pending && wall_ms - t.update_ms >= expiration &&
               (t.state == txn_state::empty || t.state == txn_state::complete_commit ||
                t.state == txn_state::complete_abort)) {
      forgotten.push_back(id);
    }
  }
  for (const auto& id : expired) {
    transaction& t = _txns.at(id);
    spdlog::info("transactional id {}: transaction timed out after {} ms, aborting", id,
                 t.timeout_ms);
    transaction before = t;
    t.fence_and_abort(wall_ms);
    persist(id, before, [this, id](error e) {
      if (e == error::none) finish(id, [] {});
    });
  }
  if (forgotten.empty()) return;
  meta::write_batch b;
  for (const auto& id : forgotten) {
    b.del(meta::cf::producers, meta::txn_key(id));
    _txns.erase(id);
  }
  _owner.writer().submit(std::move(b), [](std::error_code ec) {
    if (ec) spdlog::error("transactional ids not expired: {}", ec.message());
  });
}

void shard_txns::recover() {
  for (auto& [id, t] : _txns) {
    if (!t.in_prepare()) continue;
    spdlog::info("transactional id {}: completing its {} after a restart", id,
                 txn_state_name(t.state));
    t.pending = true;
    finish(id, [] {});
  }
}

// ---- txn_manager ----

struct txn_manager::timers {
  std::vector<std::unique_ptr<boost::asio::steady_timer>> tick;
};

txn_manager::txn_manager(const config& cfg, net::shard_pool& shards, meta::store& store,
                         group_manager& groups)
    : _cfg(cfg),
      _shards(shards),
      _store(store),
      _groups(groups),
      _writer(store),
      _timers(new timers) {
  for (unsigned s = 0; s < shards.size(); ++s) {
    _per_shard.push_back(std::make_unique<shard_txns>(*this, s));
  }
}

txn_manager::~txn_manager() { _writer.stop(); }

unsigned txn_manager::owner_of(std::string_view id) const {
  return static_cast<unsigned>(std::hash<std::string_view>{}(id) % _shards.size());
}

void txn_manager::post(unsigned shard, std::function<void()> fn) {
  boost::asio::post(_shards.context(shard), std::move(fn));
}

void txn_manager::post_after(unsigned shard, int64_t ms, std::function<void()> fn) {
  auto t = std::make_shared<boost::asio::steady_timer>(_shards.context(shard));
  t->expires_after(std::chrono::milliseconds(ms));
  t->async_wait([t, fn = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec) fn();
  });
}

std::error_code txn_manager::load() {
  size_t n = 0, bad = 0;
  auto ec = _store.scan(meta::cf::producers, meta::txn_prefix(),
                        [&](std::string_view k, std::string_view v) {
                          transaction t;
                          if (!decode_txn(meta::txn_id_of(k), v, t)) {
                            ++bad;
                            return true;
                          }
                          on_shard(owner_of(t.id)).adopt(std::move(t));
                          ++n;
                          return true;
                        });
  if (ec) return ec;
  if (bad > 0) spdlog::warn("transactions: {} unreadable records skipped", bad);
  if (n > 0) spdlog::info("transactions: {} transactional ids loaded", n);
  return {};
}

void txn_manager::start() {
  for (unsigned s = 0; s < _shards.size(); ++s) {
    _timers->tick.push_back(std::make_unique<boost::asio::steady_timer>(_shards.context(s)));
  }
  for (unsigned s = 0; s < _shards.size(); ++s) {
    post(s, [this, s] {
      on_shard(s).recover();
      arm(s);
    });
  }
}

void txn_manager::arm(unsigned s) {
  auto& t = *_timers->tick[s];
  t.expires_after(kTickPeriod);
  t.async_wait([this, s](const boost::system::error_code& ec) {
    if (ec) return;
    on_shard(s).tick(wall_now_ms());
    arm(s);
  });
}

void txn_manager::stop() { _writer.stop(); }

}  // namespace sluice::coordinator
