#include "src/broker/topic_manager.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <random>

#include "src/broker/topic_names.h"

namespace sluice::broker {

namespace {

// A random (version 4) UUID; Kafka never hands out the all-zero id.
wire::uuid random_topic_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  wire::uuid id{};
  for (size_t i = 0; i < id.size(); i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8; ++j) id[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  id[6] = static_cast<uint8_t>((id[6] & 0x0f) | 0x40);
  id[8] = static_cast<uint8_t>((id[8] & 0x3f) | 0x80);
  return id;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

topic_manager::topic_manager(const config& cfg, meta::store& store)
    : _cfg(cfg), _store(store), _map(std::make_shared<const topic_map>()) {}

topic_manager::~topic_manager() { stop(); }

void topic_manager::stop() { _control.join(); }

std::error_code topic_manager::load() {
  auto listed = _store.list_topics();
  if (!listed) return listed.error();
  auto& topics = listed.value();
  auto map = std::make_shared<topic_map>();
  for (auto& t : topics) {
    auto settings = meta::resolve_topic_settings(t.configs, _cfg);
    if (!settings) {
      spdlog::error("topic {}: stored configs no longer resolve ({}); using broker defaults",
                    t.name, settings.error().message());
      settings = meta::resolve_topic_settings({}, _cfg);
      if (!settings) return settings.error();
    }
    auto e = std::make_shared<topic_entry>();
    e->name = t.name;
    e->id = t.id;
    e->partitions = t.partition_count;
    e->configs = std::move(t.configs);
    e->settings = settings.value();
    (*map)[e->name] = std::move(e);
  }
  spdlog::info("loaded {} topics", map->size());
  _map.store(std::move(map));
  return {};
}

void topic_manager::create(std::vector<topic_spec> specs, create_done done) {
  boost::asio::post(_control, [this, specs = std::move(specs), done = std::move(done)] {
    auto next = std::make_shared<topic_map>(*_map.load());
    std::vector<topic_outcome> out;
    out.reserve(specs.size());
    bool changed = false;
    for (const auto& spec : specs) {
      out.push_back(create_one(spec, *next));
      changed |= out.back().error == kafka::error::none && !spec.validate_only;
    }
    if (changed) _map.store(std::move(next));
    done(std::move(out));
  });
}

topic_outcome topic_manager::create_one(const topic_spec& spec, topic_map& next) {
  topic_outcome r{spec.name, kafka::error::none, {}, nullptr};
  auto fail = [&](kafka::error e, std::string msg) {
    r.error = e;
    r.message = std::move(msg);
    return r;
  };
  if (auto why = validate_topic_name(spec.name); !why.empty()) {
    return fail(kafka::error::invalid_topic_exception, why);
  }
  if (next.contains(spec.name)) {
    return fail(kafka::error::topic_already_exists, "Topic '" + spec.name + "' already exists.");
  }
  int32_t partitions = spec.partitions == -1 ? _cfg.num_partitions : spec.partitions;
  if (partitions <= 0) {
    return fail(kafka::error::invalid_partitions, "Number of partitions must be larger than 0.");
  }
  if (spec.replication_factor != -1 && spec.replication_factor != 1) {
    return fail(kafka::error::invalid_replication_factor,
                "Replication factor must be 1 (or -1 for the default): Sluice is a single "
                "replica broker, got " +
                    std::to_string(spec.replication_factor) + ".");
  }
  if (auto why = meta::validate_topic_configs(spec.configs); !why.empty()) {
    return fail(kafka::error::invalid_config, why);
  }
  auto settings = meta::resolve_topic_settings(spec.configs, _cfg);
  if (!settings) return fail(kafka::error::invalid_config, settings.error().message());

  auto e = std::make_shared<topic_entry>();
  e->name = spec.name;
  e->id = random_topic_id();
  e->partitions = partitions;
  e->configs = spec.configs;
  e->settings = settings.value();
  r.topic = e;
  if (spec.validate_only) return r;

  meta::topic_info info{e->name, e->id, e->partitions, e->configs, now_ms()};
  if (auto ec = _store.put_topic(info)) {
    spdlog::error("creating topic {}: metadata store: {}", spec.name, ec.message());
    return fail(kafka::error::kafka_storage_error, "Metadata store write failed: " + ec.message());
  }
  spdlog::info("created topic {} with {} partitions", e->name, e->partitions);
  next[e->name] = std::move(e);
  return r;
}

}  // namespace sluice::broker
