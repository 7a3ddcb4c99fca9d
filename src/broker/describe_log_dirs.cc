// DescribeLogDirs (key 35, v1-4): the one log dir (log.dir as an absolute path) with the size in
// bytes of each partition asked for (all when the list is null): the sum of its segments, read
// on the partition's owner shard. Unknown topics and partitions are left out, as Kafka does.
// v4 adds the file system's total and usable bytes (statvfs).

#include "kafka/describe_log_dirs.h"

#include <sys/statvfs.h>

#include <filesystem>
#include <memory>

#include "src/broker/fan_out.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::describe_log_dirs_request;
using kafka::describe_log_dirs_response;
using dir_result = describe_log_dirs_response::describe_log_dirs_result;

void handle(request_context& ctx, describe_log_dirs_request& req,
            responder<describe_log_dirs_response> reply) {
  broker& b = ctx.owner;
  auto topics = b.topics().snapshot();
  auto g = fan_out<describe_log_dirs_response>::start(b, ctx.conn.shard, std::move(reply));
  dir_result& dir = g->value.results.emplace_back();
  std::error_code ec;
  auto abs = std::filesystem::absolute(b.cfg().data_dir, ec);
  dir.log_dir = ec ? b.cfg().data_dir : abs.lexically_normal().string();
  if (ctx.version() >= 4) {
    struct statvfs vfs {};
    if (::statvfs(b.cfg().data_dir.c_str(), &vfs) == 0) {
      dir.total_bytes = static_cast<int64_t>(vfs.f_blocks) * static_cast<int64_t>(vfs.f_frsize);
      dir.usable_bytes = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
    }
  }
  // Which partitions: all, or the known ones of those asked for.
  std::vector<std::pair<std::shared_ptr<const topic_entry>, std::vector<int32_t>>> wanted;
  if (!req.topics) {
    for (const auto& [name, t] : *topics) {
      std::vector<int32_t> all(static_cast<size_t>(t->partitions));
      for (int32_t p = 0; p < t->partitions; ++p) all[static_cast<size_t>(p)] = p;
      wanted.emplace_back(t, std::move(all));
    }
  } else {
    for (const auto& t : *req.topics) {
      auto it = topics->find(t.topic);
      if (it == topics->end()) continue;
      std::vector<int32_t> known;
      for (int32_t p : t.partitions) {
        if (p >= 0 && p < it->second->partitions) known.push_back(p);
      }
      if (!known.empty()) wanted.emplace_back(it->second, std::move(known));
    }
  }
  dir.topics.reserve(wanted.size());
  for (auto& [topic, parts] : wanted) {
    auto& tr = dir.topics.emplace_back();
    tr.name = topic->name;
    tr.partitions.resize(parts.size());
    for (size_t i = 0; i < parts.size(); ++i) {
      tr.partitions[i].partition_index = parts[i];
      g->on_partition(topic, parts[i], tr.partitions[i], [](partition& part, auto& out) {
        out.partition_size = static_cast<int64_t>(part.log().size_bytes());
      });
    }
  }
  g->seal();
}

}  // namespace

extern const handler describe_log_dirs_handler = {
    describe_log_dirs_request::api_key, 1, 4,
    &typed_handle<describe_log_dirs_request, describe_log_dirs_response, &handle>};

}  // namespace sluice::broker
