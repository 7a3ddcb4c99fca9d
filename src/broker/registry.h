#pragma once
// The one handler registry: which APIs and versions Sluice serves. ApiVersions answers from it.
//
// Adding an API: write src/broker/<api>.cc defining `const handler <api>_handler`, declare it in
// registry.cc and list it there. Nothing else dispatches requests.
//
// Thread safety: immutable after static initialisation.

#include <cstdint>
#include <span>

#include "src/broker/handler.h"

namespace sluice::broker {

// The handler for an API key, or nullptr if Sluice does not serve it.
const handler* find_handler(int16_t api_key);

// Every served handler, ordered by API key.
std::span<const handler* const> all_handlers();

}  // namespace sluice::broker
