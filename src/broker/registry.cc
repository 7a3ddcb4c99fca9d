#include "src/broker/registry.h"

#include <algorithm>
#include <array>

namespace sluice::broker {

extern const handler api_versions_handler;
extern const handler create_topics_handler;
extern const handler metadata_handler;

namespace {

// Ordered by API key (ApiVersions lists them in this order).
const std::array<const handler*, 3> kHandlers = {
    &metadata_handler,
    &api_versions_handler,
    &create_topics_handler,
};

}  // namespace

const handler* find_handler(int16_t api_key) {
  auto it = std::find_if(kHandlers.begin(), kHandlers.end(),
                         [&](const handler* h) { return h->api_key == api_key; });
  return it == kHandlers.end() ? nullptr : *it;
}

std::span<const handler* const> all_handlers() { return kHandlers; }

}  // namespace sluice::broker
