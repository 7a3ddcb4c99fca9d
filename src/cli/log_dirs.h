#pragma once
// Partition sizes with DescribeLogDirs (API 35, v1), which librdkafka 2.0.2's admin API lacks:
// one request on a connection of its own to each broker that leads a partition of the topic,
// encoded and decoded with the project's generated Kafka codec (src/protocol). Any broker that
// serves DescribeLogDirs v1 (Kafka 1.1+) answers it.
//
// Contract: the whole exchange with one broker is bounded by `timeout`; a broker that cannot be
// reached, closes the connection or answers with an error fails the call with one line (Kafka
// error name first when the broker sent one). Sizes are summed over the broker's log dirs.
// Single-threaded; each call runs its own io_context.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "src/cli/client.h"

namespace sluice::cli {

// partition -> size in bytes on its leader, for every partition of `topic` with a leader.
outcome<std::map<int32_t, int64_t>> partition_sizes(const cluster_metadata& md,
                                                    const topic_info& topic,
                                                    std::chrono::milliseconds timeout);

}  // namespace sluice::cli
