#include "src/storage/file_io.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/storage/storage_test_util.h"

namespace sluice::storage {
namespace {

using testing::sv;
using testing::temp_dir;

std::string read_all(file& f) {
  std::string s(f.size().value(), '\0');
  auto n = f.pread(0, {reinterpret_cast<uint8_t*>(s.data()), s.size()});
  EXPECT_TRUE(n);
  s.resize(n.value());
  return s;
}

TEST(PosixFileSystem, CreateAppendPreadTruncate) {
  temp_dir dir;
  posix_file_system fs;
  auto f = fs.create(dir.file("a")).value();
  ASSERT_FALSE(f->append(sv("hello ")));
  ASSERT_FALSE(f->append(sv("world")));
  ASSERT_FALSE(f->pwrite(0, sv("H")));
  ASSERT_FALSE(f->fdatasync());
  EXPECT_EQ(f->size().value(), 11u);
  EXPECT_EQ(read_all(*f), "Hello world");
  EXPECT_GE(f->native_handle(), 0);

  uint8_t buf[20];
  EXPECT_EQ(f->pread(6, buf).value(), 5u);  // short only at end of file
  ASSERT_FALSE(f->truncate(5));
  EXPECT_EQ(read_all(*f), "Hello");
  ASSERT_FALSE(f->append(sv("!")));  // append follows the truncated end
  EXPECT_EQ(read_all(*f), "Hello!");
}

TEST(PosixFileSystem, CreateKeepsExistingContent) {
  temp_dir dir;
  posix_file_system fs;
  ASSERT_FALSE(fs.create(dir.file("a")).value()->append(sv("abc")));
  auto f = fs.create(dir.file("a")).value();
  EXPECT_EQ(read_all(*f), "abc");
}

TEST(PosixFileSystem, DirectoryOperationsAndErrors) {
  temp_dir dir;
  posix_file_system fs;
  EXPECT_EQ(fs.open(dir.file("missing")).error(), errc::not_found);
  ASSERT_FALSE(fs.mkdir(dir.file("x/y")));
  ASSERT_FALSE(fs.mkdir(dir.file("x/y")));  // existing is fine
  ASSERT_TRUE(fs.create(dir.file("x/y/f1")));
  ASSERT_FALSE(fs.rename(dir.file("x/y/f1"), dir.file("x/y/f2")));
  ASSERT_FALSE(fs.sync_dir(dir.file("x/y")));
  auto names = fs.list_dir(dir.file("x/y")).value();
  EXPECT_EQ(names, std::vector<std::string>{"f2"});
  ASSERT_FALSE(fs.remove(dir.file("x/y/f2")));
  EXPECT_TRUE(fs.list_dir(dir.file("x/y")).value().empty());
  EXPECT_EQ(fs.remove(dir.file("x/y/f2")), errc::not_found);
  EXPECT_EQ(fs.list_dir(dir.file("nope")).error(), errc::not_found);
}

TEST(PosixFileSystem, ErrnoMapping) {
  EXPECT_EQ(error_from_errno(ENOSPC), errc::no_space);
  EXPECT_EQ(error_from_errno(EIO), errc::io_error);
  EXPECT_EQ(error_from_errno(EACCES), errc::io_error);
}

TEST(FaultInjection, WriteFaults) {
  temp_dir dir;
  posix_file_system real;
  fault_injection_file_system fs(real);
  auto f = fs.create(dir.file("a")).value();

  fs.fail_writes(fault_injection_file_system::fault::no_space, 1);
  EXPECT_EQ(f->append(sv("abcd")), errc::no_space);
  EXPECT_EQ(f->size().value(), 0u);

  fs.fail_writes(fault_injection_file_system::fault::short_write, 1);
  EXPECT_EQ(f->append(sv("abcd")), errc::io_error);
  EXPECT_EQ(read_all(*f), "ab");  // a torn write leaves a prefix

  fs.fail_writes(fault_injection_file_system::fault::io_error, 2);
  EXPECT_EQ(f->pwrite(0, sv("x")), errc::io_error);
  EXPECT_EQ(f->append(sv("x")), errc::io_error);
  EXPECT_FALSE(f->append(sv("cd")));  // faults are used up
  EXPECT_EQ(read_all(*f), "abcd");
}

TEST(FaultInjection, SyncAndReadFaults) {
  temp_dir dir;
  posix_file_system real;
  fault_injection_file_system fs(real);
  auto f = fs.create(dir.file("a")).value();
  ASSERT_FALSE(f->append(sv("abc")));
  fs.fail_syncs(1);
  EXPECT_EQ(f->fdatasync(), errc::io_error);
  EXPECT_EQ(fs.synced_size(dir.file("a")), 0u);  // a failed sync proves nothing
  ASSERT_FALSE(f->fdatasync());
  EXPECT_EQ(fs.synced_size(dir.file("a")), 3u);
  fs.fail_reads(1);
  uint8_t buf[3];
  EXPECT_EQ(f->pread(0, buf).error(), errc::io_error);
  EXPECT_EQ(f->pread(0, buf).value(), 3u);
}

TEST(FaultInjection, PowerCutDropsUnsyncedBytes) {
  temp_dir dir;
  posix_file_system real;
  // A file that existed before the wrapper saw it counts as durable.
  ASSERT_FALSE(real.create(dir.file("old")).value()->append(sv("old")));
  fault_injection_file_system fs(real);
  {
    auto old = fs.open(dir.file("old")).value();
    ASSERT_FALSE(old->append(sv("+new")));
    auto a = fs.create(dir.file("a")).value();
    ASSERT_FALSE(a->append(sv("synced")));
    ASSERT_FALSE(a->fdatasync());
    ASSERT_FALSE(a->append(sv("-lost")));
    auto b = fs.create(dir.file("b")).value();
    ASSERT_FALSE(b->append(sv("never synced")));
    auto c = fs.create(dir.file("c")).value();
    ASSERT_FALSE(c->append(sv("renamed")));
    ASSERT_FALSE(c->fdatasync());
    ASSERT_FALSE(fs.rename(dir.file("c"), dir.file("d")));
  }
  ASSERT_FALSE(fs.power_cut());
  EXPECT_EQ(read_all(*real.open(dir.file("old")).value()), "old");
  EXPECT_EQ(read_all(*real.open(dir.file("a")).value()), "synced");
  EXPECT_EQ(read_all(*real.open(dir.file("b")).value()), "");
  EXPECT_EQ(read_all(*real.open(dir.file("d")).value()), "renamed");
}

TEST(FaultInjection, TruncateLowersSyncedSize) {
  temp_dir dir;
  posix_file_system real;
  fault_injection_file_system fs(real);
  auto f = fs.create(dir.file("a")).value();
  ASSERT_FALSE(f->append(sv("abcdef")));
  ASSERT_FALSE(f->fdatasync());
  ASSERT_FALSE(f->truncate(2));
  ASSERT_FALSE(f->append(sv("XYZ")));
  ASSERT_FALSE(fs.power_cut());
  EXPECT_EQ(read_all(*real.open(dir.file("a")).value()), "ab");
}

TEST(FaultInjection, PowerCutUndoesOverwritesSinceTheLastSync) {
  temp_dir dir;
  posix_file_system real;
  fault_injection_file_system fs(real);
  auto f = fs.create(dir.file("a")).value();
  ASSERT_FALSE(f->append(sv("0000000000")));
  ASSERT_FALSE(f->fdatasync());
  ASSERT_FALSE(f->pwrite(2, sv("ab")));  // synced: survives
  ASSERT_FALSE(f->fdatasync());
  ASSERT_FALSE(f->pwrite(6, sv("cd")));    // not synced: undone
  ASSERT_FALSE(f->pwrite(7, sv("ef")));    // overlaps the one before: undone to the synced bytes
  ASSERT_FALSE(f->pwrite(9, sv("ghij")));  // straddles the synced end: both parts dropped
  ASSERT_FALSE(fs.power_cut());
  EXPECT_EQ(read_all(*real.open(dir.file("a")).value()), "00ab000000");
}

}  // namespace
}  // namespace sluice::storage
