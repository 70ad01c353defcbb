#pragma once
// Runs many asynchronous operations with at most `concurrency` in flight: the one place the
// project bounds concurrency — all at once (run_bounded), or read ahead of an ordered consumer
// within a memory budget (ReadAhead).
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
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

// Operations 0..count-1 whose results are taken in order, started ahead of the taker: at most
// `concurrency` in flight (started, not yet arrived), at most kWindowPerOperation x concurrency
// started and not yet taken, their weights (the bytes each result will hold) within `budget` —
// though the one to be taken next is always started, whatever its weight. An arrival starts the
// next operation, so one slow request at the head does not stop the others: the results behind it
// wait in the window (S3's first-byte latency has a long tail; an in-order window of `concurrency`
// would run at the pace of its slowest request).
template <typename Result>
class ReadAhead {
 public:
  static constexpr std::size_t kWindowPerOperation = 8;
  using Start = std::function<void(std::size_t, std::function<void(Result&&)>)>;
  ReadAhead(std::size_t count, std::size_t concurrency, std::uint64_t budget,
            std::function<std::uint64_t(std::size_t)> weight, Start start)
      : count_(count),
        concurrency_(std::max<std::size_t>(1, concurrency)),
        window_(concurrency_ * kWindowPerOperation),
        budget_(budget),
        weight_(std::move(weight)),
        start_(std::move(start)),
        slots_(count) {}
  // The started operations' callbacks reach this object: it waits for them.
  ~ReadAhead() {
    std::unique_lock lock(mutex_);
    closing_ = true;
    arrived_.wait(lock, [&] { return in_flight_ == 0 && finishing_ == 0; });
  }
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The result of operation `index` (each taken once, in order).
  Result take(std::size_t index) {
    {
      std::lock_guard lock(mutex_);
      taking_ = index;
    }
    start_more();
    std::unique_lock lock(mutex_);
    arrived_.wait(lock, [&] { return slots_[index].has_value(); });
    Result result = std::move(*slots_[index]);
    slots_[index].reset();
    weight_ahead_ -= weight_(index);
    taking_ = index + 1;
    lock.unlock();
    start_more();
    return result;
  }

 private:
  // One thread starts at a time (the taker or an arrival); another that finds it busy leaves it to
  // that one, which looks again at everything each time it has started an operation.
  void start_more() {
    std::unique_lock lock(mutex_);
    if (starting_) return;
    starting_ = true;
    while (!closing_ && next_ < count_ &&
           (next_ <= taking_ || (in_flight_ < concurrency_ && next_ - taking_ < window_ &&
                                 weight_ahead_ + weight_(next_) <= budget_))) {
      const std::size_t slot = next_++;
      weight_ahead_ += weight_(slot);
      ++in_flight_;
      lock.unlock();
      start_(slot, [this, slot](Result&& result) {
        {
          std::lock_guard done(mutex_);
          slots_[slot] = std::move(result);
          --in_flight_;
          ++finishing_;
          arrived_.notify_all();
        }
        start_more();
        std::lock_guard done(mutex_);
        --finishing_;
        arrived_.notify_all();
      });
      lock.lock();
    }
    starting_ = false;
  }

  const std::size_t count_;
  const std::size_t concurrency_;
  const std::size_t window_;
  const std::uint64_t budget_;
  const std::function<std::uint64_t(std::size_t)> weight_;
  const Start start_;
  std::vector<std::optional<Result>> slots_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::size_t next_ = 0;
  std::size_t taking_ = 0;  // the result the taker waits for, or takes next
  std::size_t in_flight_ = 0;
  std::uint64_t weight_ahead_ = 0;  // of the results started and not yet taken
  std::size_t finishing_ = 0;       // arrivals still starting others: they reach this object
  bool starting_ = false;
  bool closing_ = false;
};

}  // namespace common
