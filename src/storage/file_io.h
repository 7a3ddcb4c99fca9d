#pragma once
// File I/O behind one interface, so storage code runs unchanged on the real disk and on a
// fault-injecting wrapper that simulates short writes, ENOSPC, EIO and power loss.
//
// Contract:
// - Errors are values. errno ENOSPC maps to errc::no_space, ENOENT to errc::not_found, every
//   other failure to errc::io_error. Nothing throws.
// - pwrite/append write all bytes or return an error; after an error an unknown prefix of the
//   bytes may be on disk (a torn write), so callers that care truncate back.
// - pread returns the number of bytes read; fewer than asked only at end of file.
// - reserve(offset, length) allocates disk blocks for that range without changing the file's size
//   or contents (fallocate(2) with FALLOC_FL_KEEP_SIZE), so later writes there skip the file
//   system's delayed-allocation bookkeeping. A hint: errc::no_space when the disk is full, and
//   errc::io_error also when the file system cannot reserve; callers may ignore either. Blocks
//   reserved past the end stay allocated until truncate() (any size, even the current one).
// - fdatasync makes the file's data (and size) durable; directory entries (create, rename,
//   remove) are durable only after sync_dir of the parent.
// - create() opens read-write, creating the file if missing; it never truncates an existing
//   file. open() requires the file to exist.
// - A `file` must not outlive the file_system that made it.
//
// Thread safety: a file_system may be shared between threads (posix_file_system holds no state);
// a `file` handle is used by one thread at a time, except that fdatasync() of a posix file may
// run on a background thread while its owner keeps writing (group commit; the kernel makes that
// safe). fault_injection_file_system is single-threaded: drive its syncs from the owner thread
// (hold_syncs() excepted, for a test that runs one sync on a thread of its own).

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "src/base/errc.h"

namespace sluice::storage {

class file {
 public:
  virtual ~file() = default;

  virtual result<size_t> pread(uint64_t offset, std::span<uint8_t> out) = 0;
  virtual std::error_code pwrite(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Writes at the current end of the file (as tracked by this handle).
  virtual std::error_code append(std::span<const uint8_t> data) = 0;
  virtual std::error_code reserve(uint64_t offset, uint64_t length) = 0;
  virtual std::error_code fdatasync() = 0;
  virtual std::error_code truncate(uint64_t size) = 0;
  virtual result<uint64_t> size() = 0;
  virtual const std::string& path() const = 0;
  // The OS descriptor for sendfile(2), or -1 when there is none.
  virtual int native_handle() const = 0;
};

class file_system {
 public:
  virtual ~file_system() = default;

  virtual result<std::unique_ptr<file>> open(const std::string& path) = 0;
  virtual result<std::unique_ptr<file>> create(const std::string& path) = 0;
  virtual std::error_code rename(const std::string& from, const std::string& to) = 0;
  virtual std::error_code remove(const std::string& path) = 0;
  // File names (not paths) in `dir`, without "." and "..", in no particular order.
  virtual result<std::vector<std::string>> list_dir(const std::string& dir) = 0;
  // Creates `dir` and missing parents; an existing directory is not an error.
  virtual std::error_code mkdir(const std::string& dir) = 0;
  virtual std::error_code sync_dir(const std::string& dir) = 0;
};

// Replaces `dir`/`name` with `bytes` so that a crash leaves the old file or the new one, never a
// mix: written to `dir`/`temp` (truncated first), fdatasync'ed, renamed over `name`, directory
// synced. With durable = false both syncs are skipped (the file may then be lost or old after
// a crash, but never torn).
std::error_code replace_file(file_system& fs, const std::string& dir, const std::string& name,
                             const std::string& temp, std::span<const uint8_t> bytes,
                             bool durable = true);

// open(2)/pread/pwrite/fdatasync. Retries EINTR and short transfers.
class posix_file_system final : public file_system {
 public:
  result<std::unique_ptr<file>> open(const std::string& path) override;
  result<std::unique_ptr<file>> create(const std::string& path) override;
  std::error_code rename(const std::string& from, const std::string& to) override;
  std::error_code remove(const std::string& path) override;
  result<std::vector<std::string>> list_dir(const std::string& dir) override;
  std::error_code mkdir(const std::string& dir) override;
  std::error_code sync_dir(const std::string& dir) override;
};

// Process-wide counts of posix_file_system I/O since start: fdatasync calls that succeeded and
// bytes written (pwrite/append). Relaxed atomics, safe from any thread; for benchmarks and
// metrics (bytes per fsync shows how well group commit batches).
struct io_counters {
  uint64_t fdatasyncs = 0;
  uint64_t bytes_written = 0;
};
io_counters posix_io_counters();

// The errc for an errno value (see the contract above).
std::error_code error_from_errno(int e);

// Wraps another file_system and injects faults into it. Power loss is modelled pessimistically:
// power_cut() truncates every file this wrapper has seen back to the size it had at its last
// successful fdatasync (files created and never synced become empty; files that existed before
// the wrapper first opened them count as synced at that size). Overwrites inside the synced
// prefix since the last fdatasync are rolled back too (an index entry rewritten over a torn one
// is not durable until the next sync either).
class fault_injection_file_system final : public file_system {
 public:
  enum class fault {
    short_write,  // half the bytes are written, then errc::io_error
    no_space,     // nothing is written, errc::no_space
    io_error,     // nothing is written, errc::io_error
  };

  explicit fault_injection_file_system(file_system& inner) : _inner(&inner) {}

  // The next `count` pwrite/append calls (any file) fail with `f`.
  void fail_writes(fault f, int count) {
    _write_fault = f;
    _write_faults = count;
  }
  // The next `count` fdatasync calls fail with errc::io_error (and sync nothing).
  void fail_syncs(int count) { _sync_faults = count; }
  // The next `count` pread calls fail with errc::io_error.
  void fail_reads(int count) { _read_faults = count; }
  // The next `count` reserve calls fail with errc::no_space (and reserve nothing).
  void fail_reserves(int count) { _reserve_faults = count; }
  // reserve calls that reached the inner file system (succeeded or not) since construction.
  int reserves() const { return _reserves; }
  // While on, every fdatasync waits (on its own thread) until this is turned off, so a test can
  // look at the world while a sync is inside it; wait_for_held_sync() returns once one waits.
  // Thread-safe, unlike the rest of this class.
  void hold_syncs(bool on);
  void wait_for_held_sync();
  // Drops everything not fdatasync'ed. Open handles must not be used afterwards.
  std::error_code power_cut();
  // Size at the last fdatasync of `path` (0 if never synced or unknown).
  uint64_t synced_size(const std::string& path) const;

  result<std::unique_ptr<file>> open(const std::string& path) override;
  result<std::unique_ptr<file>> create(const std::string& path) override;
  std::error_code rename(const std::string& from, const std::string& to) override;
  std::error_code remove(const std::string& path) override;
  result<std::vector<std::string>> list_dir(const std::string& dir) override;
  std::error_code mkdir(const std::string& dir) override;
  std::error_code sync_dir(const std::string& dir) override;

 private:
  friend class fault_file;
  // Consumes one pending write fault, if any.
  bool take_write_fault(fault& f);
  bool take_sync_fault();
  bool take_read_fault();
  bool take_reserve_fault();
  void maybe_hold_sync();
  result<std::unique_ptr<file>> wrap(result<std::unique_ptr<file>> f, bool existed);

  file_system* _inner;
  std::map<std::string, uint64_t> _synced;  // path -> durable size
  // path -> (offset, bytes before the write) for writes inside the synced prefix since the last
  // fdatasync, oldest first; power_cut() restores them newest first.
  std::map<std::string, std::vector<std::pair<uint64_t, std::vector<uint8_t>>>> _undo;
  fault _write_fault = fault::io_error;
  int _write_faults = 0;
  int _sync_faults = 0;
  int _read_faults = 0;
  int _reserve_faults = 0;
  int _reserves = 0;
  std::mutex _hold_mu;
  std::condition_variable _hold_cv;
  bool _hold = false;  // under _hold_mu
  int _held = 0;       // syncs waiting; under _hold_mu
};

}  // namespace sluice::storage
