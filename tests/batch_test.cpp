// The one bound on concurrency: ReadAhead keeps at most `concurrency` results, and at most
// `budget` bytes of them, started ahead of an ordered taker.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/batch.h"

namespace {

struct Window {
  std::atomic<int> ahead{0};  // started and not yet taken (or being taken)
  std::atomic<int> most_ahead{0};
};

void read_all(std::size_t count, std::size_t concurrency, std::uint64_t budget,
              std::uint64_t weight, Window& window) {
  std::vector<std::thread> workers;
  {
    common::ReadAhead<std::size_t> reads(
        count, concurrency, budget, [&](std::size_t) { return weight; },
        [&](std::size_t index, std::function<void(std::size_t &&)> done) {
          const int now = ++window.ahead;
          for (int most = window.most_ahead;
               now > most && !window.most_ahead.compare_exchange_weak(most, now);) {
          }
          workers.emplace_back([index, done = std::move(done)] {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            std::size_t result = index;
            done(std::move(result));
          });
        });
    for (std::size_t i = 0; i < count; ++i) {
      --window.ahead;  // result i leaves the window as take() takes it, before it reads on
      EXPECT_EQ(reads.take(i), i) << "results come in order";
    }
  }
  for (auto& worker : workers) worker.join();
}

TEST(ReadAhead, AtMostConcurrencyResultsAreAheadOfTheTaker) {
  Window window;
  read_all(30, 4, UINT64_MAX, 1, window);
  EXPECT_EQ(window.most_ahead, 4);
}

TEST(ReadAhead, TheBudgetBoundsTheBytesAheadButTheNextIsAlwaysStarted) {
  Window by_bytes;
  read_all(30, 8, 250, 100, by_bytes);
  EXPECT_EQ(by_bytes.most_ahead, 2) << "250 bytes hold two results of 100";
  Window oversized;
  read_all(5, 8, 50, 100, oversized);
  EXPECT_EQ(oversized.most_ahead, 1) << "each result alone is over the budget, and still read";
}

}  // namespace
