#pragma once
// sharded_calls<Owner>: the cross-shard calls of a coordinator whose state is split by key over
// shards (groups, transactional ids). Owner provides owner_of(key), post(shard, fn), on_shard(s)
// and shard_count(); this adds call() and call_all(), so both coordinators hop shards one way.
//
// Threading: call() runs op on the key's owner shard and hands its answer to `deliver` on
// `home`; call_all() runs op on every shard and delivers the results, in shard order, on `home`.
// Nothing here locks: every hop is a post to a shard's io_context.

#include <functional>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::coordinator {

template <class Owner>
class sharded_calls {
 public:
  // Runs op(shard_state&, std::function<void(T)> reply) on the key's owner shard; reply may be
  // called then or later (on the owner shard) and hands T to deliver on `home`.
  template <class T, class Op>
  void call(unsigned home, std::string_view key, Op op, std::function<void(T)> deliver) {
    Owner& self = static_cast<Owner&>(*this);
    const unsigned owner = self.owner_of(key);
    self.post(
        owner, [&self, home, owner, op = std::move(op), deliver = std::move(deliver)]() mutable {
          op(self.on_shard(owner), std::function<void(T)>([&self, home, deliver](T v) {
               self.post(home, [deliver, v = std::move(v)]() mutable { deliver(std::move(v)); });
             }));
        });
  }

  // Runs op(shard_state&) -> T on every shard; deliver gets the results on `home`.
  template <class T, class Op>
  void call_all(unsigned home, Op op, std::function<void(std::vector<T>)> deliver) {
    Owner& self = static_cast<Owner&>(*this);
    struct gather {
      std::vector<T> out;
      size_t left;
      std::function<void(std::vector<T>)> deliver;
    };
    const unsigned n = self.shard_count();
    auto g = std::make_shared<gather>(gather{std::vector<T>(n), n, std::move(deliver)});
    for (unsigned s = 0; s < n; ++s) {
      self.post(s, [&self, s, home, op, g] {
        T v = op(self.on_shard(s));
        self.post(home, [g, s, v = std::move(v)]() mutable {
          g->out[s] = std::move(v);
          if (--g->left == 0) g->deliver(std::move(g->out));
        });
      });
    }
  }
};

}  // namespace sluice::coordinator
