#include "src/storage/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>

namespace sluice::storage {

std::error_code error_from_errno(int e) {
  switch (e) {
    case ENOSPC:
    case EDQUOT:
      return errc::no_space;
    case ENOENT:
      return errc::not_found;
    default:
      return errc::io_error;
  }
}

namespace {

std::atomic<uint64_t> g_fdatasyncs{0};
std::atomic<uint64_t> g_bytes_written{0};

std::error_code last_error() { return error_from_errno(errno); }

class posix_file final : public file {
 public:
  posix_file(int fd, std::string path, uint64_t end) : _fd(fd), _path(std::move(path)), _end(end) {}
  ~posix_file() override { ::close(_fd); }
  posix_file(const posix_file&) = delete;
  posix_file& operator=(const posix_file&) = delete;

  result<size_t> pread(uint64_t offset, std::span<uint8_t> out) override {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n =
          ::pread(_fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return last_error();
      }
      if (n == 0) break;  // end of file
      done += static_cast<size_t>(n);
    }
    return done;
  }

  std::error_code pwrite(uint64_t offset, std::span<const uint8_t> data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n =
          ::pwrite(_fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        auto ec = last_error();
        refresh_end();
        return ec;
      }
      done += static_cast<size_t>(n);
    }
    if (offset + done > _end) _end = offset + done;
    g_bytes_written.fetch_add(done, std::memory_order_relaxed);
    return {};
  }

  std::error_code append(std::span<const uint8_t> data) override { return pwrite(_end, data); }

  std::error_code reserve(uint64_t offset, uint64_t length) override {
    while (::fallocate(_fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                       static_cast<off_t>(length)) != 0) {
      if (errno != EINTR) return last_error();
    }
    return {};
  }

  std::error_code fdatasync() override {
    while (::fdatasync(_fd) != 0) {
      if (errno != EINTR) return last_error();
    }
    g_fdatasyncs.fetch_add(1, std::memory_order_relaxed);
    return {};
  }

  std::error_code truncate(uint64_t size) override {
    while (::ftruncate(_fd, static_cast<off_t>(size)) != 0) {
      if (errno != EINTR) return last_error();
    }
    _end = size;
    return {};
  }

  result<uint64_t> size() override {
    struct stat st;
    if (::fstat(_fd, &st) != 0) return last_error();
    return static_cast<uint64_t>(st.st_size);
  }

  const std::string& path() const override { return _path; }
  int native_handle() const override { return _fd; }

 private:
  // After a failed write the end is whatever the kernel kept.
  void refresh_end() {
    if (auto s = size()) _end = s.value();
  }

  int _fd;
  std::string _path;
  uint64_t _end;
};

}  // namespace

std::error_code replace_file(file_system& fs, const std::string& dir, const std::string& name,
                             const std::string& temp, std::span<const uint8_t> bytes,
                             bool durable) {
  const std::string tmp = dir + "/" + temp;
  {
    auto created = fs.create(tmp);
    if (!created) return created.error();
    auto& f = created.value();
    if (auto ec = f->truncate(0)) return ec;
    if (auto ec = f->pwrite(0, bytes)) return ec;
    if (durable) {
      if (auto ec = f->fdatasync()) return ec;
    }
  }
  if (auto ec = fs.rename(tmp, dir + "/" + name)) return ec;
  return durable ? fs.sync_dir(dir) : std::error_code{};
}

namespace {

result<std::unique_ptr<file>> open_posix(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) return last_error();
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    auto ec = last_error();
    ::close(fd);
    return ec;
  }
  return std::unique_ptr<file>(
      std::make_unique<posix_file>(fd, path, static_cast<uint64_t>(st.st_size)));
}

}  // namespace

io_counters posix_io_counters() {
  return {g_fdatasyncs.load(std::memory_order_relaxed),
          g_bytes_written.load(std::memory_order_relaxed)};
}

result<std::unique_ptr<file>> posix_file_system::open(const std::string& path) {
  return open_posix(path, 0);
}

result<std::unique_ptr<file>> posix_file_system::create(const std::string& path) {
  return open_posix(path, O_CREAT);
}

std::error_code posix_file_system::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return last_error();
  return {};
}

std::error_code posix_file_system::remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return last_error();
  return {};
}

result<std::vector<std::string>> posix_file_system::list_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return last_error();
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return error_from_errno(err);
  return names;
}

std::error_code posix_file_system::mkdir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return error_from_errno(ec.value());
  return {};
}

std::error_code posix_file_system::sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return last_error();
  int rc;
  while ((rc = ::fsync(fd)) != 0 && errno == EINTR) {
  }
  auto ec = rc == 0 ? std::error_code{} : last_error();
  ::close(fd);
  return ec;
}

// ---- fault injection ----

class fault_file final : public file {
 public:
  fault_file(fault_injection_file_system& fs, std::unique_ptr<file> inner)
      : _fs(&fs), _inner(std::move(inner)) {}

  result<size_t> pread(uint64_t offset, std::span<uint8_t> out) override {
    if (_fs->take_read_fault()) return errc::io_error;
    return _inner->pread(offset, out);
  }

  std::error_code pwrite(uint64_t offset, std::span<const uint8_t> data) override {
    if (auto ec = remember(offset, data.size())) return ec;
    if (auto ec = injected(offset, data)) return ec;
    return _inner->pwrite(offset, data);
  }

  std::error_code append(std::span<const uint8_t> data) override {
    auto end = _inner->size();
    if (!end) return end.error();
    return pwrite(end.value(), data);
  }

  // Size and contents stay as they are, so power_cut() has nothing to undo.
  std::error_code reserve(uint64_t offset, uint64_t length) override {
    if (_fs->take_reserve_fault()) return errc::no_space;
    ++_fs->_reserves;
    return _inner->reserve(offset, length);
  }

  std::error_code fdatasync() override {
    _fs->maybe_hold_sync();
    if (_fs->take_sync_fault()) return errc::io_error;
    if (auto ec = _inner->fdatasync()) return ec;
    auto s = _inner->size();
    if (!s) return s.error();
    _fs->_synced[_inner->path()] = s.value();
    _fs->_undo.erase(_inner->path());
    return {};
  }

  std::error_code truncate(uint64_t size) override {
    if (auto ec = _inner->truncate(size)) return ec;
    // A shrink may reach the disk before the next sync; assume the worst for power_cut().
    auto& synced = _fs->_synced[_inner->path()];
    if (synced > size) synced = size;
    return {};
  }

  result<uint64_t> size() override { return _inner->size(); }
  const std::string& path() const override { return _inner->path(); }
  int native_handle() const override { return _inner->native_handle(); }

 private:
  // Saves what [offset, offset + len) holds inside the synced prefix, for power_cut().
  std::error_code remember(uint64_t offset, size_t len) {
    const uint64_t synced = _fs->synced_size(_inner->path());
    if (offset >= synced || len == 0) return {};
    std::vector<uint8_t> old(static_cast<size_t>(std::min<uint64_t>(len, synced - offset)));
    auto n = _inner->pread(offset, old);
    if (!n) return n.error();
    old.resize(n.value());
    _fs->_undo[_inner->path()].emplace_back(offset, std::move(old));
    return {};
  }

  std::error_code injected(uint64_t offset, std::span<const uint8_t> data) {
    fault_injection_file_system::fault f;
    if (!_fs->take_write_fault(f)) return {};
    switch (f) {
      case fault_injection_file_system::fault::short_write:
        if (auto ec = _inner->pwrite(offset, data.first(data.size() / 2))) return ec;
        return errc::io_error;
      case fault_injection_file_system::fault::no_space:
        return errc::no_space;
      case fault_injection_file_system::fault::io_error:
        return errc::io_error;
    }
    return errc::io_error;
  }

  fault_injection_file_system* _fs;
  std::unique_ptr<file> _inner;
};

bool fault_injection_file_system::take_write_fault(fault& f) {
  if (_write_faults <= 0) return false;
  --_write_faults;
  f = _write_fault;
  return true;
}

void fault_injection_file_system::hold_syncs(bool on) {
  {
    std::lock_guard lock(_hold_mu);
    _hold = on;
  }
  _hold_cv.notify_all();
}

void fault_injection_file_system::wait_for_held_sync() {
  std::unique_lock lock(_hold_mu);
  _hold_cv.wait(lock, [this] { return _held > 0; });
}

void fault_injection_file_system::maybe_hold_sync() {
  std::unique_lock lock(_hold_mu);
  if (!_hold) return;
  ++_held;
  _hold_cv.notify_all();
  _hold_cv.wait(lock, [this] { return !_hold; });
  --_held;
}

bool fault_injection_file_system::take_sync_fault() {
  if (_sync_faults <= 0) return false;
  --_sync_faults;
  return true;
}

bool fault_injection_file_system::take_read_fault() {
  if (_read_faults <= 0) return false;
  --_read_faults;
  return true;
}

bool fault_injection_file_system::take_reserve_fault() {
  if (_reserve_faults <= 0) return false;
  --_reserve_faults;
  return true;
}

result<std::unique_ptr<file>> fault_injection_file_system::wrap(result<std::unique_ptr<file>> f,
                                                                bool existed) {
  if (!f) return f.error();
  const std::string& path = f.value()->path();
  if (!_synced.contains(path)) {
    uint64_t durable = 0;
    if (existed) {
      auto s = f.value()->size();
      if (!s) return s.error();
      durable = s.value();
    }
    _synced[path] = durable;
  }
  return std::unique_ptr<file>(std::make_unique<fault_file>(*this, std::move(f).value()));
}

result<std::unique_ptr<file>> fault_injection_file_system::open(const std::string& path) {
  return wrap(_inner->open(path), true);
}

result<std::unique_ptr<file>> fault_injection_file_system::create(const std::string& path) {
  // A file that exists already (and that we have not seen) counts as durable at its size.
  bool existed = static_cast<bool>(_inner->open(path));
  return wrap(_inner->create(path), existed);
}

std::error_code fault_injection_file_system::rename(const std::string& from,
                                                    const std::string& to) {
  if (auto ec = _inner->rename(from, to)) return ec;
  auto it = _synced.find(from);
  if (it != _synced.end()) {
    _synced[to] = it->second;
    _synced.erase(it);
  }
  _undo.erase(to);
  if (auto u = _undo.find(from); u != _undo.end()) {
    _undo[to] = std::move(u->second);
    _undo.erase(u);
  }
  return {};
}

std::error_code fault_injection_file_system::remove(const std::string& path) {
  if (auto ec = _inner->remove(path)) return ec;
  _synced.erase(path);
  _undo.erase(path);
  return {};
}

result<std::vector<std::string>> fault_injection_file_system::list_dir(const std::string& dir) {
  return _inner->list_dir(dir);
}

std::error_code fault_injection_file_system::mkdir(const std::string& dir) {
  return _inner->mkdir(dir);
}

std::error_code fault_injection_file_system::sync_dir(const std::string& dir) {
  return _inner->sync_dir(dir);
}

std::error_code fault_injection_file_system::power_cut() {
  for (const auto& [path, durable] : _synced) {
    auto f = _inner->open(path);
    if (!f) {
      if (f.error() == errc::not_found) continue;
      return f.error();
    }
    auto s = f.value()->size();
    if (!s) return s.error();
    if (s.value() > durable) {
      if (auto ec = f.value()->truncate(durable)) return ec;
    }
    auto u = _undo.find(path);
    if (u == _undo.end()) continue;
    for (auto it = u->second.rbegin(); it != u->second.rend(); ++it) {
      const auto& [offset, old] = *it;
      if (offset >= durable) continue;
      const auto n = static_cast<size_t>(std::min<uint64_t>(old.size(), durable - offset));
      if (auto ec = f.value()->pwrite(offset, std::span<const uint8_t>(old.data(), n))) return ec;
    }
  }
  _undo.clear();
  return {};
}

uint64_t fault_injection_file_system::synced_size(const std::string& path) const {
  auto it = _synced.find(path);
  return it == _synced.end() ? 0 : it->second;
}

}  // namespace sluice::storage
