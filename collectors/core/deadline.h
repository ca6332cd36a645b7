// A point in steady time by which an operation must end. Passed by value
// into every blocking call of a collector run.
#pragma once

#include <chrono>

namespace mailstack {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Deadline(Clock::time_point at) : at_(at) {}
  static Deadline After(Clock::duration d) { return Deadline(Clock::now() + d); }
  static Deadline Never() { return Deadline(Clock::time_point::max()); }

  Clock::time_point at() const { return at_; }
  bool Expired() const { return Clock::now() >= at_; }
  Clock::duration Remaining() const {
    auto now = Clock::now();
    return now >= at_ ? Clock::duration::zero() : at_ - now;
  }
  // Remaining time as a poll(2) timeout in ms: 0 when expired, rounded up so
  // that a poll never returns just before the deadline and spins.
  int RemainingPollMs() const {
    if (at_ == Clock::time_point::max()) return -1;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(Remaining()).count();
    return ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms);
  }

 private:
  Clock::time_point at_;
};

// Wall-clock Unix time in seconds (for timestamps and ages, never for
// deadlines: those use the steady clock).
inline double UnixTime() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace mailstack
