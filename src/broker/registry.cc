#include "src/broker/registry.h"

#include <algorithm>
#include <iterator>

namespace sluice::broker {

extern const handler api_versions_handler;
extern const handler produce_handler;
extern const handler fetch_handler;
extern const handler list_offsets_handler;
extern const handler create_topics_handler;
extern const handler metadata_handler;
extern const handler describe_configs_handler;
extern const handler alter_configs_handler;
extern const handler incremental_alter_configs_handler;
extern const handler delete_topics_handler;
extern const handler delete_records_handler;
extern const handler init_producer_id_handler;
extern const handler offset_for_leader_epoch_handler;
extern const handler add_partitions_to_txn_handler;
extern const handler add_offsets_to_txn_handler;
extern const handler end_txn_handler;
extern const handler write_txn_markers_handler;
extern const handler txn_offset_commit_handler;
extern const handler describe_transactions_handler;
extern const handler list_transactions_handler;
extern const handler describe_log_dirs_handler;
extern const handler create_partitions_handler;
extern const handler elect_leaders_handler;
extern const handler describe_cluster_handler;
extern const handler describe_producers_handler;
extern const handler consumer_group_heartbeat_handler;
extern const handler consumer_group_describe_handler;
extern const handler describe_topic_partitions_handler;
extern const handler offset_commit_handler;
extern const handler offset_fetch_handler;
extern const handler find_coordinator_handler;
extern const handler join_group_handler;
extern const handler heartbeat_handler;
extern const handler leave_group_handler;
extern const handler sync_group_handler;
extern const handler describe_groups_handler;
extern const handler list_groups_handler;
extern const handler delete_groups_handler;
extern const handler offset_delete_handler;

namespace {

// Ordered by API key (ApiVersions lists them in this order).
const handler* const kHandlers[] = {
    &produce_handler,                    // 0
    &fetch_handler,                      // 1
    &list_offsets_handler,               // 2
    &metadata_handler,                   // 3
    &offset_commit_handler,              // 8
    &offset_fetch_handler,               // 9
    &find_coordinator_handler,           // 10
    &join_group_handler,                 // 11
    &heartbeat_handler,                  // 12
    &leave_group_handler,                // 13
    &sync_group_handler,                 // 14
    &describe_groups_handler,            // 15
    &list_groups_handler,                // 16
    &api_versions_handler,               // 18
    &create_topics_handler,              // 19
    &delete_topics_handler,              // 20
    &delete_records_handler,             // 21
    &init_producer_id_handler,           // 22
    &offset_for_leader_epoch_handler,    // 23
    &add_partitions_to_txn_handler,      // 24
    &add_offsets_to_txn_handler,         // 25
    &end_txn_handler,                    // 26
    &write_txn_markers_handler,          // 27
    &txn_offset_commit_handler,          // 28
    &describe_configs_handler,           // 32
    &alter_configs_handler,              // 33
    &describe_log_dirs_handler,          // 35
    &create_partitions_handler,          // 37
    &delete_groups_handler,              // 42
    &elect_leaders_handler,              // 43
    &incremental_alter_configs_handler,  // 44
    &offset_delete_handler,              // 47
    &describe_cluster_handler,           // 60
    &describe_producers_handler,         // 61
    &describe_transactions_handler,      // 65
    &list_transactions_handler,          // 66
    &consumer_group_heartbeat_handler,   // 68
    &consumer_group_describe_handler,    // 69
    &describe_topic_partitions_handler,  // 75
};

}  // namespace

const handler* find_handler(int16_t api_key) {
  auto it = std::find_if(std::begin(kHandlers), std::end(kHandlers),
                         [&](const handler* h) { return h->api_key == api_key; });
  return it == std::end(kHandlers) ? nullptr : *it;
}

std::span<const handler* const> all_handlers() { return kHandlers; }

}  // namespace sluice::broker
