#pragma once
// fan_out<T>: one answer assembled from many that come back later, for the handlers that ask
// each partition's owner shard (or each transaction's coordinator shard) and reply once every
// one has answered.
//
// Contract:
// - start() makes the state, held open for the handler: the handler adds its work, then calls
//   seal() once. `done(value)` runs exactly once, on `home`, after seal() and after every answer
//   added before it; an answer that comes back inline cannot finish it early.
// - answer(fn) counts one answer more and returns its callback: calling that (once, on `home`)
//   runs fn(value, args...) and settles the answer.
// - on_partition(topic, index, slot, work) answers one partition into `slot`, a part of `value`.
//   A null `topic` (find_partition, topic_manager.h: unknown topic, index out of range) is
//   UNKNOWN_TOPIC_OR_PARTITION at once. Otherwise work(partition&, Slot& out) runs on the owner
//   shard on a copy of the slot, which comes back into it on `home`; a failed lookup there sets
//   lookup_error() (partitions.h) instead. on_partition_async is the same for work that answers
//   later: work(partition&, finish) calls finish(Slot) once, on the owner shard (both hops run
//   inline when already on that shard, as broker::with_partition_async does).
// - Errors go where the slot can carry them: a kafka::error slot, or its error_code; a slot
//   without one (DescribeLogDirs' sizes) keeps what it had.
// - Slots are referenced, not copied back by index: size the vectors of `value` before handing
//   out slots, so they never move while answers are outstanding.
//
// Thread safety: everything but `work` runs on `home` (the connection's shard); nothing locks.

#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "src/broker/broker.h"
#include "src/broker/partitions.h"
#include "src/broker/topic_manager.h"
#include "src/protocol/kafka_error.h"

namespace sluice::broker {

// Writes `e` where `slot` can carry an error.
template <class Slot>
void set_error(Slot& slot, kafka::error e) {
  if constexpr (std::is_same_v<Slot, kafka::error>) {
    slot = e;
  } else if constexpr (requires { slot.error_code; }) {
    slot.error_code = kafka::code(e);
  }
}

template <class T>
class fan_out : public std::enable_shared_from_this<fan_out<T>> {
 public:
  using done_fn = std::function<void(T)>;

  static std::shared_ptr<fan_out> start(broker& b, unsigned home, done_fn done) {
    return std::shared_ptr<fan_out>(new fan_out(b, home, std::move(done)));
  }

  T value;

  template <class Fn>
  auto answer(Fn fn) {
    ++_pending;
    return [self = this->shared_from_this(), fn = std::move(fn)](auto&&... args) mutable {
      fn(self->value, std::forward<decltype(args)>(args)...);
      self->settle();
    };
  }
  auto answer() {
    return answer([](T&) {});
  }

  template <class Slot, class Work>
  void on_partition(std::shared_ptr<const topic_entry> topic, int32_t index, Slot& slot,
                    Work work) {
    if (!topic) return set_error(slot, kafka::error::unknown_topic_or_partition);
    _b.with_partition(
        _home, std::move(topic), index,
        [out = slot, work = std::move(work)](result<partition*> p) mutable {
          if (!p) {
            set_error(out, lookup_error(p.error()));
          } else {
            work(*p.value(), out);
          }
          return std::move(out);
        },
        answer([&slot](T&, Slot out) { slot = std::move(out); }));
  }

  template <class Slot, class Work>
  void on_partition_async(std::shared_ptr<const topic_entry> topic, int32_t index, Slot& slot,
                          Work work) {
    if (!topic) return set_error(slot, kafka::error::unknown_topic_or_partition);
    _b.with_partition_async<Slot>(
        _home, std::move(topic), index,
        [failed = slot, work = std::move(work)](result<partition*> p,
                                                std::function<void(Slot)> finish) mutable {
          if (p) return work(*p.value(), std::move(finish));
          set_error(failed, lookup_error(p.error()));
          finish(std::move(failed));
        },
        answer([&slot](T&, Slot out) { slot = std::move(out); }));
  }

  // The handler has added all its work.
  void seal() { settle(); }

 private:
  fan_out(broker& b, unsigned home, done_fn done) : _b(b), _home(home), _done(std::move(done)) {}
  void settle() {
    if (--_pending == 0) _done(std::move(value));
  }

  broker& _b;
  unsigned _home;
  size_t _pending = 1;  // the handler's own hold, released by seal()
  done_fn _done;
};

}  // namespace sluice::broker
