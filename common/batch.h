#pragma once
// Runs many asynchronous operations with at most `concurrency` in flight: the one place the
// project bounds concurrency — all at once (run_bounded, kept to a rate by a Pacer), or read
// ahead of an ordered consumer within a memory budget (ReadAhead).
#include <algorithm>
#include <chrono>
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

// A request rate to keep to, such as S3's per-prefix rates (3,500 writes a second, each key of a
// DeleteObjects counting as one): sending at it costs nothing, while exceeding it is answered
// with 503 SlowDown and a retry after a backoff, which wastes far more time than it saves. A
// token bucket holding one second's worth; a reservation always succeeds and says when its
// operation may start, so a cost above the bucket only waits longer. Used from one thread.
class Pacer {
 public:
  using Clock = std::chrono::steady_clock;
  // per_second <= 0: no pacing.
  explicit Pacer(double per_second) : rate_(per_second), tokens_(per_second), last_(Clock::now()) {}

  // When an operation costing `cost` units may start.
  Clock::time_point reserve(double cost) {
    const auto now = Clock::now();
    if (rate_ <= 0) return now;
    const std::chrono::duration<double> elapsed = now - last_;
    tokens_ = std::min(rate_, tokens_ + rate_ * elapsed.count());
    last_ = now;
    tokens_ -= cost;
    if (tokens_ >= 0) return now;
    return now + std::chrono::duration_cast<Clock::duration>(
                     std::chrono::duration<double>(-tokens_ / rate_));
  }

 private:
  double rate_;
  double tokens_;
  Clock::time_point last_;
};

// How run_bounded keeps to a rate: operation i costs cost(i) of pacer's.
struct Pacing {
  Pacer* pacer = nullptr;
  std::function<double(std::size_t)> cost;
};

// start(i, done) begins operation i and arranges for done(result) to be called exactly once,
// from any thread. on_result(i, result) runs on the calling thread, as results arrive. With
// `pacing`, an operation starts no sooner than its pacer allows. Returns once every operation
// has reported.
template <typename Result>
void run_bounded(std::size_t count, std::size_t concurrency,
                 const std::function<void(std::size_t, std::function<void(Result&&)>)>& start,
                 const std::function<void(std::size_t, Result&&)>& on_result,
                 const Pacing& pacing = {}) {
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
  bool reserved = false;  // operation `next`'s start is reserved, for next_at
  Pacer::Clock::time_point next_at{};
  while (finished < count) {
    while (next < count && in_flight < concurrency) {
      if (pacing.pacer != nullptr && !reserved) {
        next_at = pacing.pacer->reserve(pacing.cost(next));
        reserved = true;
      }
      if (reserved && Pacer::Clock::now() < next_at) break;
      reserved = false;
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
      const auto arrived = [&] { return !shared->results.empty(); };
      // Waiting for a paced start: woken by it, or by an arrival.
      if (reserved && in_flight < concurrency) {
        if (!shared->arrived.wait_until(lock, next_at, arrived)) continue;
      } else {
        shared->arrived.wait(lock, arrived);
      }
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
