// Named substring patterns of the logs collector (mailstack_log_pattern_matches_total):
// a pattern matches a message that contains all of its parts, in order.
// No regex: one SSE2 pass over the message looks for each pattern's rarest
// byte (an "anchor"), and only a message holding an anchor where its part
// fits is searched for the whole pattern. A message costs about one compare
// per pattern per 16 bytes; the full search runs on candidate lines only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailstack::logs {

struct Pattern {
  std::string name;                // label value of `pattern`
  std::vector<std::string> parts;  // non-empty, none empty, no NUL
};

// The operators' runbook's five error patterns.
std::vector<Pattern> DefaultPatterns();

class PatternSet {
 public:
  explicit PatternSet(std::vector<Pattern> patterns);

  // Adds 1 to counts[i] for every pattern i that `text` matches (at most once per call).
  void Match(std::string_view text, uint64_t* counts) const;
  // The same, by the plain definition (no prefilter): for tests and the fuzz target.
  static bool Matches(const Pattern& p, std::string_view text);

  size_t size() const { return patterns_.size(); }
  const std::vector<Pattern>& patterns() const { return patterns_; }

 private:
  struct Anchor {
    uint8_t byte;
    uint32_t part;    // the part holding the anchor
    uint32_t offset;  // the anchor's offset in that part
  };
  bool CheckCandidate(size_t pattern, std::string_view text, size_t pos) const;
  void MatchScalar(std::string_view text, uint64_t* counts) const;

  std::vector<Pattern> patterns_;
  std::vector<Anchor> anchors_;                     // one per pattern
  std::vector<uint8_t> distinct_;                   // distinct anchor bytes
  std::array<std::vector<uint32_t>, 256> by_byte_;  // anchor byte -> patterns
};

}  // namespace mailstack::logs
