#pragma once
// Topic subscription by regular expression (KIP-848 subscribed_topic_regex).
//
// Kafka compiles these with RE2/J (Java-like syntax, full match against the topic name). Sluice
// uses Boost.Regex in Perl mode: the same syntax for what RE2 accepts (classes, alternation,
// repetition, (?i) flags, \Q...\E), and full matching via regex_match. Boost accepts some
// constructs RE2 refuses (backreferences, lookaround); those compile here instead of failing with
// INVALID_REGULAR_EXPRESSION.
//
// Errors are values: an invalid pattern yields an error message, never an exception; a match
// that exceeds Boost's complexity limit counts as no match.
//
// Thread safety: a compiled topic_regex is immutable; matches() may be called from any thread.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::coordinator {

class topic_regex {
 public:
  // The compiled pattern, or nullopt with `error` set to why it does not compile.
  static std::optional<topic_regex> compile(std::string_view pattern, std::string* error);

  // True when the whole of `topic` matches.
  bool matches(std::string_view topic) const;

 private:
  struct impl;
  explicit topic_regex(std::shared_ptr<const impl> p) : _impl(std::move(p)) {}
  std::shared_ptr<const impl> _impl;
};

}  // namespace sluice::coordinator
