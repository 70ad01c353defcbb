// The one bound on concurrency: ReadAhead keeps at most `concurrency` operations in flight, at
// most eight results per operation and at most `budget` bytes of them started ahead of an
// ordered taker, and a slow result at the head does not stop the others.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "common/batch.h"

namespace {

struct Window {
  std::atomic<int> ahead{0};  // started and not yet taken (or being taken)
  std::atomic<int> most_ahead{0};
  std::atomic<int> in_flight{0};  // started and not yet arrived
  std::atomic<int> most_in_flight{0};
};

void raise_to(std::atomic<int>& most, int now) {
  for (int seen = most; now > seen && !most.compare_exchange_weak(seen, now);) {
  }
}

void read_all(
    std::size_t count, std::size_t concurrency, std::uint64_t budget, std::uint64_t weight,
    Window& window,
    const std::function<int(std::size_t)>& delay_ms = [](std::size_t) { return 2; }) {
  std::vector<std::thread> workers;
  std::mutex workers_mutex;
  {
    common::ReadAhead<std::size_t> reads(
        count, concurrency, budget, [&](std::size_t) { return weight; },
        [&](std::size_t index, std::function<void(std::size_t &&)> done) {
          raise_to(window.most_ahead, ++window.ahead);
          raise_to(window.most_in_flight, ++window.in_flight);
          std::lock_guard lock(workers_mutex);
          workers.emplace_back([&window, index, delay = delay_ms(index), done = std::move(done)] {
            std::this_thread::sleep_for(std::chrono::milliseconds(delay));
            std::size_t result = index;
            --window.in_flight;
            done(std::move(result));
          });
        });
    for (std::size_t i = 0; i < count; ++i) {
      --window.ahead;  // result i leaves the window as take() takes it, before it reads on
      EXPECT_EQ(reads.take(i), i) << "results come in order";
    }
  }
  std::lock_guard lock(workers_mutex);
  for (auto& worker : workers) worker.join();
}

TEST(ReadAhead, AtMostConcurrencyOperationsAreInFlight) {
  Window window;
  read_all(60, 4, UINT64_MAX, 1, window);
  EXPECT_LE(window.most_in_flight, 4);
  EXPECT_GE(window.most_in_flight, 2) << "operations overlap";
}

TEST(ReadAhead, ASlowResultAtTheHeadDoesNotStopTheOthersWithinTheWindow) {
  Window window;
  // Result 0 takes 300 ms, the others 2 ms: while the taker waits for it, the rest go on, four at
  // a time, until eight per operation wait behind it.
  read_all(60, 4, UINT64_MAX, 1, window, [](std::size_t index) { return index == 0 ? 300 : 2; });
  EXPECT_LE(window.most_in_flight, 4);
  EXPECT_EQ(window.most_ahead, 32) << "the window: eight results per operation in flight";
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
