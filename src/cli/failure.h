#pragma once
// How the CLI carries a failure back to main: a value holding the one line the user sees.
//
// Every verb returns `outcome<void>`; main prints `error: <message>` on stderr and exits 1.
// Messages that come from Kafka start with the Kafka error name (UNKNOWN_TOPIC_OR_PARTITION: ...)
// so scripts can match on it. Values only; no shared state.

#include <boost/outcome/result.hpp>
#include <boost/outcome/try.hpp>
#include <string>

namespace sluice::cli {

struct failure {
  std::string message;
};

template <class T>
using outcome = boost::outcome_v2::result<T, failure, boost::outcome_v2::policy::terminate>;

inline failure fail(std::string message) { return failure{std::move(message)}; }

}  // namespace sluice::cli

// CLI_TRY(var, expr) / CLI_TRY(expr): as SLUICE_TRY, for outcome<T>.
#define CLI_TRY(...) BOOST_OUTCOME_TRY(__VA_ARGS__)
