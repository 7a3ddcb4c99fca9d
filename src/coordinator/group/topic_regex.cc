#include "src/coordinator/group/topic_regex.h"

#include <boost/regex.hpp>
#include <stdexcept>

namespace sluice::coordinator {

struct topic_regex::impl {
  boost::regex re;
};

std::optional<topic_regex> topic_regex::compile(std::string_view pattern, std::string* error) {
  auto p = std::make_shared<impl>();
  // no_except: a bad pattern sets status() instead of throwing.
  p->re.assign(pattern.begin(), pattern.end(), boost::regex::perl | boost::regex::no_except);
  if (p->re.status() != 0) {
    if (error) {
      *error = "SubscribedTopicRegex `" + std::string(pattern) +
               "` is not a valid regular expression: " +
               boost::regex_traits<char>().error_string(
                   static_cast<boost::regex_constants::error_type>(p->re.status()));
    }
    return std::nullopt;
  }
  return topic_regex(std::move(p));
}

bool topic_regex::matches(std::string_view topic) const {
  // Boost throws only when a match exceeds its complexity limit (pathological patterns).
  try {
    return boost::regex_match(topic.begin(), topic.end(), _impl->re);
  } catch (const std::runtime_error&) {
    return false;
  }
}

}  // namespace sluice::coordinator
