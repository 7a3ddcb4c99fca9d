#include "src/base/errc.h"

#include <string>

namespace sluice {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sluice"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::ok:
        return "ok";
      case errc::truncated:
        return "truncated input";
      case errc::invalid_length:
        return "invalid length or count";
      case errc::invalid_varint:
        return "invalid varint";
      case errc::crc_mismatch:
        return "CRC mismatch";
      case errc::unsupported_magic:
        return "unsupported record batch magic";
      case errc::unsupported_compression:
        return "unsupported compression codec";
      case errc::decompression_failed:
        return "decompression failed";
      case errc::too_large:
        return "size limit exceeded";
      case errc::invalid_data:
        return "invalid data";
      case errc::unsupported_version:
        return "unsupported version";
      case errc::unknown_api:
        return "unknown API";
      case errc::invalid_config:
        return "invalid configuration";
      case errc::io_error:
        return "I/O error";
      case errc::no_space:
        return "no space left on device";
      case errc::not_found:
        return "not found";
    }
    return "unknown sluice error " + std::to_string(c);
  }
};

}  // namespace

const std::error_category& sluice_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace sluice
