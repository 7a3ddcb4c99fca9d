#pragma once
// The topic table as KIP-848 consumer groups see it (coordinator::topic_view: names, ids,
// partition counts, a version that changes with the table), built once per topic snapshot and
// shared by every shard.
//
// Thread safety: current_topic_view() from any thread (a short mutex guards the cache); the
// returned view is immutable.

#include <memory>

#include "src/broker/topic_manager.h"
#include "src/coordinator/group/consumer_group.h"

namespace sluice::broker {

std::shared_ptr<const coordinator::topic_view> current_topic_view(const topic_manager& topics);

}  // namespace sluice::broker
