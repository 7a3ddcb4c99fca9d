#pragma once
// Topic name rules, as Kafka enforces them (org.apache.kafka.common.internals.Topic): legal
// characters [a-zA-Z0-9._-], at most 249 of them, and not "." or "..". Applied to CreateTopics
// and to auto-creation alike; a bad name is INVALID_TOPIC_EXCEPTION with this message.

#include <string>
#include <string_view>

namespace sluice::broker {

inline constexpr size_t kMaxTopicNameLength = 249;

// "" when `name` is a legal topic name, otherwise the reason (Kafka's wording).
std::string validate_topic_name(std::string_view name);

}  // namespace sluice::broker
