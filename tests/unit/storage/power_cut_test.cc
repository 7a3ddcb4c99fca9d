// Power-cut test: group-commit appends on fault_injection_file_system, power_cut() at random
// points (with syncs and completions interleaved at random by a hand-driven loop), reopen:
// everything acknowledged durable is present byte for byte and nothing torn remains.
#include <gtest/gtest.h>

#include <random>

#include "src/storage/group_commit.h"
#include "src/storage/log.h"
#include "tests/unit/storage/durability_test_util.h"

namespace sluice::storage {
namespace {

using testing::batch_for;
using testing::check_log;
using testing::manual_loop;
using testing::temp_dir;
using fault = fault_injection_file_system::fault;

TEST(PowerCut, AcknowledgedBatchesSurviveRandomPowerCuts) {
  temp_dir tmp;
  posix_file_system posix;
  fault_injection_file_system faulty(posix);
  manual_loop loop;
  log_options opts{.segment_bytes = 2048, .index_interval_bytes = 256, .flush_ms = 100};
  opts.sync_executor = loop.blocking();
  opts.post_back = loop.post_back();
  const std::string dir = tmp.path() + "/p-0";
  std::mt19937_64 rng(7);
  int64_t max_acked = -1;
  int64_t now = 0;
  size_t acks = 0;
  for (int round = 0; round < 60; ++round) {
    auto opened = log::open(faulty, dir, opts);
    ASSERT_TRUE(opened) << opened.error().message();
    auto l = std::move(opened).value();
    check_log(*l);
    ASSERT_GT(l->log_end_offset(), max_acked) << "round " << round;
    if (::testing::Test::HasFailure()) return;
    const int ops = static_cast<int>(rng() % 120);
    for (int i = 0; i < ops && !l->error(); ++i) {
      switch (rng() % 12) {
        case 0:
          loop.run_syncs();
          break;
        case 1:
          loop.run_posted();
          break;
        case 2:
          l->tick(now += static_cast<int64_t>(rng() % 60));
          break;
        case 3:
          faulty.fail_writes(rng() % 2 ? fault::short_write : fault::no_space, 1);
          [[fallthrough]];
        default: {
          wire::bytes b = batch_for(l->log_end_offset());
          auto a = l->append(b);
          if (!a) continue;  // an injected write fault; the log rolled it back
          l->wait_durable(a.value().last_offset,
                          [&, last = a.value().last_offset](std::error_code ec) {
                            if (ec) return;
                            max_acked = std::max(max_acked, last);
                            ++acks;
                          });
        }
      }
    }
    faulty.fail_writes(fault::io_error, 0);
    if (rng() % 6 == 0) {
      loop.run_all();
      ASSERT_FALSE(l->close());
    }
    ASSERT_FALSE(faulty.power_cut());
    loop.drop();  // syncs that had not run never happened
    l.reset();
  }
  EXPECT_GT(acks, 100u);
}

}  // namespace
}  // namespace sluice::storage
