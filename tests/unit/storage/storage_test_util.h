#pragma once
// Helpers shared by the storage unit tests: a temp directory per test and batch builders.

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <string_view>

#include "src/protocol/record_batch.h"

namespace sluice::storage::testing {

// A fresh directory under the system temp dir, removed (with its contents) on destruction.
class temp_dir {
 public:
  temp_dir() {
    static std::atomic<int> counter{0};
    _path = std::filesystem::temp_directory_path() /
            ("sluice-storage-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(_path);
    std::filesystem::create_directories(_path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(_path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::string path() const { return _path.string(); }
  std::string file(const std::string& name) const { return (_path / name).string(); }

 private:
  std::filesystem::path _path;
};

inline records::byte_span sv(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A batch of `records` records whose values are `value_size` bytes; the producer's base offset
// is deliberately wrong (the log assigns the real one).
inline wire::bytes make_batch(int records, size_t value_size = 10, int64_t ts = 1700000000000) {
  std::string value(value_size, 'v');
  records::batch_builder b;
  b.base_offset(987654321);
  for (int i = 0; i < records; ++i) b.add(ts + i, sv("key"), sv(value));
  return b.build().value();
}

// Appends a temporary batch (append() rewrites the batch in place, so it takes a mutable span).
template <class Target>
auto append(Target& target, wire::bytes batch) {
  return target.append(batch);
}

// Bytes of disk the file holds (st_blocks is in 512-byte units).
inline uint64_t allocated(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

// The blocks that hold `size` bytes, plus room for ext4's extent tree (a file with more than four
// extents keeps them in separate 4 KiB blocks, which st_blocks counts). Every reservation the
// tests check for is at least 64 KiB, so this slack cannot hide one.
inline uint64_t blocks_for(uint64_t size) { return (size + 4095) / 4096 * 4096 + 16 * 1024; }

}  // namespace sluice::storage::testing
