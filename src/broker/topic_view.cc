#include "src/broker/topic_view.h"

#include <mutex>

namespace sluice::broker {

std::shared_ptr<const coordinator::topic_view> current_topic_view(const topic_manager& topics) {
  static std::mutex mu;
  static std::weak_ptr<const topic_map> built_from;
  static std::shared_ptr<const coordinator::topic_view> view;
  static uint64_t version = 0;
  auto snap = topics.snapshot();
  std::lock_guard lock(mu);
  if (view && built_from.lock() == snap) return view;
  auto v = std::make_shared<coordinator::topic_view>();
  for (const auto& [name, t] : *snap) v->add(name, t->id, t->partitions);
  v->version = ++version;
  built_from = snap;
  view = std::move(v);
  return view;
}

}  // namespace sluice::broker
