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

namespace {

// A pacer grants one second's worth at once, then one unit each 1/rate seconds; run_bounded
// starts nothing before its reserved time. Only lower bounds are checked: a slow machine starts
// later, never sooner.
TEST(Pacer, ARateOfTwoThousandGrantsTheFirstSecondsWorthThenWaits) {
  common::Pacer pacer(2000);
  const auto now = common::Pacer::Clock::now();
  EXPECT_LE(pacer.reserve(1000), now + std::chrono::milliseconds(5)) << "within the burst";
  EXPECT_LE(pacer.reserve(1000), now + std::chrono::milliseconds(5)) << "within the burst";
  EXPECT_GE(pacer.reserve(1000), now + std::chrono::milliseconds(495)) << "past it: half a second";
  EXPECT_GE(pacer.reserve(1000), now + std::chrono::milliseconds(995));
  common::Pacer unpaced(0);
  const auto granted = unpaced.reserve(1e9);
  EXPECT_LE(granted, common::Pacer::Clock::now()) << "no rate: never waits";
}

TEST(Pacer, RunBoundedStartsEachOperationNoSoonerThanItsPacerAllows) {
  common::Pacer pacer(2000);
  std::vector<common::Pacer::Clock::time_point> started(5);
  std::vector<std::size_t> finished;
  common::run_bounded<int>(
      started.size(), 8,
      [&](std::size_t index, std::function<void(int&&)> done) {
        started[index] = common::Pacer::Clock::now();
        done(0);
      },
      [&](std::size_t index, int&&) { finished.push_back(index); },
      common::Pacing{&pacer, [](std::size_t) { return 1000.0; }});
  EXPECT_EQ(finished.size(), started.size());
  for (std::size_t i = 2; i < started.size(); ++i) {
    EXPECT_GE(started[i] - started[0], std::chrono::milliseconds(500 * (i - 1) - 5))
        << "operation " << i << " started before its time";
  }
}

}  // namespace
