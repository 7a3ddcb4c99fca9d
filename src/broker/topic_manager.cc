#include "src/broker/topic_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
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

// Kafka's list configs are comma-separated with optional blanks around items.
std::vector<std::string> split_list(std::string_view v) {
  std::vector<std::string> items;
  while (!v.empty()) {
    auto comma = v.find(',');
    auto item = v.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return items;
}

std::string join_list(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ",") + i;
  return s;
}

// Runs `one(item, next)` for every item on the control thread against a copy of the current
// map, publishes the copy when an item changed it (no error, not validate-only), then calls
// `done` with the outcomes in item order.
template <class Item, class One>
void run_changes(boost::asio::thread_pool& control,
                 std::atomic<std::shared_ptr<const topic_map>>& map, std::vector<Item> items,
                 One one, std::function<void(std::vector<topic_outcome>)> done) {
  boost::asio::post(control, [&map, items = std::move(items), one, done = std::move(done)] {
    auto next = std::make_shared<topic_map>(*map.load());
    std::vector<topic_outcome> out;
    out.reserve(items.size());
    bool changed = false;
    for (const auto& item : items) {
      out.push_back(one(item, *next));
      bool dry_run = false;
      if constexpr (requires { item.validate_only; }) dry_run = item.validate_only;
      changed |= out.back().error == kafka::error::none && !dry_run;
    }
    if (changed) map.store(std::move(next));
    done(std::move(out));
  });
}

}  // namespace

topic_manager::topic_manager(const config& cfg, meta::store& store)
    : _cfg(cfg),
      _effective(cfg),
      _store(store),
      _map(std::make_shared<const topic_map>()),
      _broker_configs(std::make_shared<const broker_config_state>(broker_config_state{cfg, {}})) {}

topic_manager::~topic_manager() { stop(); }

void topic_manager::stop() { _control.join(); }

std::error_code topic_manager::load() {
  if (auto ec = load_broker_configs()) return ec;
  auto listed = _store.list_topics();
  if (!listed) return listed.error();
  auto& topics = listed.value();
  auto map = std::make_shared<topic_map>();
  for (auto& t : topics) {
    auto settings = meta::resolve_topic_settings(t.configs, _effective);
    if (!settings) {
      spdlog::error("topic {}: stored configs no longer resolve ({}); using broker defaults",
                    t.name, settings.error().message());
      settings = meta::resolve_topic_settings({}, _effective);
      if (!settings) return settings.error();
    }
    auto e = std::make_shared<topic_entry>();
    e->name = t.name;
    e->id = t.id;
    e->partitions = t.partition_count;
    e->configs = std::move(t.configs);
    e->settings = settings.value();
    e->incarnation = _next_incarnation++;
    (*map)[e->name] = std::move(e);
  }
  spdlog::info("loaded {} topics", map->size());
  _map.store(std::move(map));
  return {};
}

void topic_manager::create(std::vector<topic_spec> specs, create_done done) {
  run_changes(
      _control, _map, std::move(specs),
      [this](const topic_spec& x, topic_map& next) { return create_one(x, next); },
      std::move(done));
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
  int32_t partitions = spec.partitions == -1 ? _effective.num_partitions : spec.partitions;
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
  auto settings = meta::resolve_topic_settings(spec.configs, _effective);
  if (!settings) return fail(kafka::error::invalid_config, settings.error().message());

  auto e = std::make_shared<topic_entry>();
  e->name = spec.name;
  e->id = random_topic_id();
  e->partitions = partitions;
  e->configs = spec.configs;
  e->settings = settings.value();
  r.topic = e;
  if (spec.validate_only) return r;
  e->incarnation = _next_incarnation++;

  meta::topic_info info{e->name, e->id, e->partitions, e->configs, now_ms()};
  if (auto ec = _store.put_topic(info)) {
    spdlog::error("creating topic {}: metadata store: {}", spec.name, ec.message());
    return fail(kafka::error::kafka_storage_error, "Metadata store write failed: " + ec.message());
  }
  spdlog::info("created topic {} with {} partitions", e->name, e->partitions);
  next[e->name] = std::move(e);
  return r;
}

void topic_manager::remove(std::vector<topic_ref> refs, create_done done) {
  run_changes(
      _control, _map, std::move(refs),
      [this](const topic_ref& x, topic_map& next) { return remove_one(x, next); }, std::move(done));
}

topic_outcome topic_manager::remove_one(const topic_ref& ref, topic_map& next) {
  topic_outcome r{ref.name, kafka::error::none, {}, nullptr};
  auto it = next.end();
  if (!ref.by_id) {
    it = next.find(ref.name);
    if (it == next.end()) {
      r.error = kafka::error::unknown_topic_or_partition;
      r.message = "This server does not host this topic-partition.";
      return r;
    }
  } else {
    it = std::find_if(next.begin(), next.end(),
                      [&](const auto& kv) { return kv.second->id == ref.id; });
    if (it == next.end()) {
      r.error = kafka::error::unknown_topic_id;
      r.message = "This server does not host this topic ID.";
      return r;
    }
  }
  r.name = it->first;
  r.topic = it->second;
  if (auto ec = _store.delete_topic(r.name)) {
    spdlog::error("deleting topic {}: metadata store: {}", r.name, ec.message());
    r.error = kafka::error::kafka_storage_error;
    r.message = "Metadata store write failed: " + ec.message();
    return r;
  }
  spdlog::info("deleted topic {}", r.name);
  next.erase(it);
  return r;
}

void topic_manager::add_partitions(std::vector<partitions_spec> specs, create_done done) {
  run_changes(
      _control, _map, std::move(specs),
      [this](const partitions_spec& x, topic_map& next) { return add_partitions_one(x, next); },
      std::move(done));
}

topic_outcome topic_manager::add_partitions_one(const partitions_spec& spec, topic_map& next) {
  topic_outcome r{spec.name, kafka::error::none, {}, nullptr};
  auto fail = [&](kafka::error e, std::string msg) {
    r.error = e;
    r.message = std::move(msg);
    return r;
  };
  auto it = next.find(spec.name);
  if (it == next.end()) {
    return fail(kafka::error::unknown_topic_or_partition,
                "This server does not host this topic-partition.");
  }
  const topic_entry& old = *it->second;
  // Kafka's (KRaft controller) messages.
  if (spec.count < old.partitions) {
    return fail(kafka::error::invalid_partitions,
                "The topic " + old.name + " currently has " + std::to_string(old.partitions) +
                    " partition(s); " + std::to_string(spec.count) + " would not be an increase.");
  }
  if (spec.count == old.partitions) {
    return fail(kafka::error::invalid_partitions,
                "Topic already has " + std::to_string(old.partitions) + " partition(s).");
  }
  auto e = std::make_shared<topic_entry>(old);
  e->partitions = spec.count;
  r.topic = e;
  if (spec.validate_only) return r;

  auto stored = _store.get_topic(e->name);
  int64_t created_ms = stored ? stored.value().created_ms : now_ms();
  meta::topic_info info{e->name, e->id, e->partitions, e->configs, created_ms};
  if (auto ec = _store.put_topic(info)) {
    spdlog::error("adding partitions to {}: metadata store: {}", e->name, ec.message());
    return fail(kafka::error::kafka_storage_error, "Metadata store write failed: " + ec.message());
  }
  spdlog::info("topic {}: {} -> {} partitions", e->name, old.partitions, e->partitions);
  it->second = std::move(e);
  return r;
}

}  // namespace sluice::broker

namespace sluice::broker {

void topic_manager::alter(std::vector<alter_spec> specs, alter_done done) {
  run_changes(
      _control, _map, std::move(specs),
      [this](const alter_spec& x, topic_map& next) { return alter_one(x, next); }, std::move(done));
}

topic_outcome topic_manager::alter_one(const alter_spec& spec, topic_map& next) {
  if (spec.broker) return alter_broker_one(spec, next);
  topic_outcome r{spec.name, kafka::error::none, {}, nullptr};
  auto fail = [&](kafka::error e, std::string msg) {
    r.error = e;
    r.message = std::move(msg);
    return r;
  };
  auto it = next.find(spec.name);
  if (it == next.end()) {
    return fail(kafka::error::unknown_topic_or_partition,
                "Topic '" + spec.name + "' does not exist.");
  }
  const topic_entry& old = *it->second;
  meta::config_map configs = spec.incremental ? old.configs : spec.replace;
  if (spec.incremental) {
    for (const auto& ch : spec.changes) {
      const auto* key = meta::find_topic_config(ch.name);
      bool is_list = key != nullptr && key->type == meta::config_type::list;
      switch (ch.op) {
        case config_op::set:
          if (!ch.value) {
            return fail(kafka::error::invalid_request, "Null value not supported for: " + ch.name);
          }
          configs[ch.name] = *ch.value;
          break;
        case config_op::remove:
          configs.erase(ch.name);
          break;
        case config_op::append:
        case config_op::subtract: {
          bool append = ch.op == config_op::append;
          if (key == nullptr) {
            return fail(kafka::error::invalid_config, "Unknown topic config name: " + ch.name);
          }
          if (!is_list) {
            return fail(kafka::error::invalid_config,
                        std::string("Config value ") + (append ? "append" : "subtract") +
                            " is not allowed for config key: " + ch.name +
                            " (only list configs support it)");
          }
          if (!ch.value) {
            return fail(kafka::error::invalid_request, "Null value not supported for: " + ch.name);
          }
          auto cur = meta::resolve_topic_config(ch.name, configs, _effective);
          auto items = split_list(cur ? std::string_view(cur.value().value) : "");
          for (const auto& v : split_list(*ch.value)) {
            auto pos = std::find(items.begin(), items.end(), v);
            if (append && pos == items.end()) items.push_back(v);
            if (!append && pos != items.end()) items.erase(pos);
          }
          configs[ch.name] = join_list(items);
          break;
        }
        default:
          return fail(kafka::error::invalid_request, "Unknown config operation " +
                                                         std::to_string(static_cast<int>(ch.op)) +
                                                         " for " + ch.name);
      }
    }
  }
  if (auto why = meta::validate_topic_configs(configs); !why.empty()) {
    return fail(kafka::error::invalid_config, why);
  }
  auto settings = meta::resolve_topic_settings(configs, _effective);
  if (!settings) return fail(kafka::error::invalid_config, settings.error().message());

  auto e = std::make_shared<topic_entry>(old);
  e->configs = std::move(configs);
  e->settings = settings.value();
  e->config_version = old.config_version + 1;
  r.topic = e;
  if (spec.validate_only) return r;

  auto stored = _store.get_topic(spec.name);
  int64_t created = stored ? stored.value().created_ms : now_ms();
  meta::topic_info info{e->name, e->id, e->partitions, e->configs, created};
  if (auto ec = _store.put_topic(info)) {
    spdlog::error("altering topic {}: metadata store: {}", spec.name, ec.message());
    return fail(kafka::error::kafka_storage_error, "Metadata store write failed: " + ec.message());
  }
  spdlog::info("altered configs of topic {}", e->name);
  it->second = std::move(e);
  return r;
}

}  // namespace sluice::broker
