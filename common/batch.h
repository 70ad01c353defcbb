#pragma once
// Runs many asynchronous operations with at most `concurrency` in flight: the one place the
// project bounds concurrency.
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace common {

// start(i, done) begins operation i and arranges for done(result) to be called exactly once,
// from any thread. on_result(i, result) runs on the calling thread, as results arrive. Returns
// once every operation has reported.
template <typename Result>
void run_bounded(std::size_t count, std::size_t concurrency,
                 const std::function<void(std::size_t, std::function<void(Result&&)>)>& start,
                 const std::function<void(std::size_t, Result&&)>& on_result) {
  struct Shared {
    std::mutex mutex;
    std::condition_variable arrived;
    std::deque<std::pair<std::size_t, Result>> results;
  };
  auto shared = std::make_shared<Shared>();
  concurrency = std::max<std::size_t>(1, concurrency);
  std::size_t next = 0;
  std::size_t in_flight = 0;
  std::size_t finished = 0;
  while (finished < count) {
    while (next < count && in_flight < concurrency) {
      const std::size_t index = next++;
      ++in_flight;
      start(index, [shared, index](Result&& result) {
        std::lock_guard lock(shared->mutex);
        shared->results.emplace_back(index, std::move(result));
        shared->arrived.notify_one();
      });
    }
    std::pair<std::size_t, Result> item;
    {
      std::unique_lock lock(shared->mutex);
      shared->arrived.wait(lock, [&] { return !shared->results.empty(); });
      item = std::move(shared->results.front());
      shared->results.pop_front();
    }
    --in_flight;
    ++finished;
    on_result(item.first, std::move(item.second));
  }
}

// The same, collecting the results in input order.
template <typename Result>
std::vector<Result> run_bounded_ordered(
    std::size_t count, std::size_t concurrency,
    const std::function<void(std::size_t, std::function<void(Result&&)>)>& start) {
  std::vector<Result> results(count);
  run_bounded<Result>(count, concurrency, start, [&](std::size_t index, Result&& result) {
    results[index] = std::move(result);
  });
  return results;
}

}  // namespace common
