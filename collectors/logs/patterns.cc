#include "collectors/logs/patterns.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mailstack::logs {
namespace {

// How often a byte appears in mail logs, roughly (higher: more common): an
// anchor is the pattern byte with the lowest figure, so that few messages
// hold it. English letter frequencies for lower case; log punctuation and
// digits are common; upper case and the rest are rare.
int Frequency(uint8_t c) {
  static constexpr std::string_view kLower = "etaoinsrhldcumpfgwybvkxjqz";  // most to least common
  if (c >= 'a' && c <= 'z') return 600 - static_cast<int>(kLower.find(static_cast<char>(c))) * 22;
  if (c >= '0' && c <= '9') return 300;
  if (c >= 'A' && c <= 'Z')
    return std::string_view("SLTAEO").find(static_cast<char>(c)) != std::string_view::npos ? 45 : 30;
  switch (c) {
    case ' ': return 1000;
    case '.':
    case '=':
    case ':':
    case ',':
    case '[':
    case ']': return 150;
    case '<':
    case '>':
    case '/':
    case '-':
    case '_': return 80;
    default: return c < 0x80 ? 20 : 5;
  }
}

}  // namespace

std::vector<Pattern> DefaultPatterns() {
  return {
      // Postfix "SASL LOGIN authentication failed", PAM/saslauthd "authentication failure".
      {"authentication_failure", {"authentication fail"}},
      {"relay_access_denied", {"Relay access denied"}},
      {"connect_refused", {"connect to ", "refused"}},
      {"tls_library_problem", {"TLS library problem"}},
      {"unknown_signing_key", {"signing table references unknown key"}},
  };
}

PatternSet::PatternSet(std::vector<Pattern> patterns) : patterns_(std::move(patterns)) {
  for (size_t i = 0; i < patterns_.size(); ++i) {
    Anchor best{0, 0, 0};
    int best_freq = 1 << 30;
    for (size_t p = 0; p < patterns_[i].parts.size(); ++p) {
      const std::string& part = patterns_[i].parts[p];
      for (size_t o = 0; o < part.size(); ++o) {
        const auto c = static_cast<uint8_t>(part[o]);
        if (const int f = Frequency(c); f < best_freq) {
          best_freq = f;
          best = Anchor{c, static_cast<uint32_t>(p), static_cast<uint32_t>(o)};
        }
      }
    }
    anchors_.push_back(best);
    if (by_byte_[best.byte].empty()) distinct_.push_back(best.byte);
    by_byte_[best.byte].push_back(static_cast<uint32_t>(i));
  }
}

bool PatternSet::Matches(const Pattern& p, std::string_view text) {
  size_t from = 0;
  for (const std::string& part : p.parts) {
    const size_t at = text.find(part, from);
    if (at == std::string_view::npos) return false;
    from = at + part.size();
  }
  return true;
}

// The anchor of `pattern` is at text[pos]: true if its part fits there and
// the whole pattern matches the text.
bool PatternSet::CheckCandidate(size_t pattern, std::string_view text, size_t pos) const {
  const Anchor& a = anchors_[pattern];
  const std::string& part = patterns_[pattern].parts[a.part];
  if (pos < a.offset || pos - a.offset + part.size() > text.size()) return false;
  if (std::memcmp(text.data() + pos - a.offset, part.data(), part.size()) != 0) return false;
  return Matches(patterns_[pattern], text);
}

void PatternSet::MatchScalar(std::string_view text, uint64_t* counts) const {
  // Patterns already decided for this text (matched, or their full search failed).
  std::vector<bool> done(patterns_.size(), false);
  for (size_t pos = 0; pos < text.size(); ++pos) {
    for (uint32_t i : by_byte_[static_cast<uint8_t>(text[pos])]) {
      if (done[i] || !CheckCandidate(i, text, pos)) continue;
      done[i] = true;
      ++counts[i];
    }
  }
}

void PatternSet::Match(std::string_view text, uint64_t* counts) const {
#if defined(__SSE2__)
  constexpr size_t kMaxSimd = 8;
  if (distinct_.empty()) return;
  if (distinct_.size() > kMaxSimd || patterns_.size() > 64) return MatchScalar(text, counts);
  __m128i needles[kMaxSimd];
  const size_t n = distinct_.size();
  for (size_t k = 0; k < n; ++k) needles[k] = _mm_set1_epi8(static_cast<char>(distinct_[k]));
  uint64_t done = 0;  // bit i: pattern i decided for this text
  const char* data = text.data();
  const size_t size = text.size();
  for (size_t base = 0; base < size; base += 16) {
    __m128i chunk;
    if (size - base >= 16) {
      chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + base));
    } else {
      alignas(16) char tail[16] = {};  // NUL is never an anchor
      std::memcpy(tail, data + base, size - base);
      chunk = _mm_load_si128(reinterpret_cast<const __m128i*>(tail));
    }
    __m128i hit = _mm_cmpeq_epi8(chunk, needles[0]);
    for (size_t k = 1; k < n; ++k) hit = _mm_or_si128(hit, _mm_cmpeq_epi8(chunk, needles[k]));
    auto mask = static_cast<uint32_t>(_mm_movemask_epi8(hit));
    while (mask != 0) {
      const size_t pos = base + static_cast<size_t>(__builtin_ctz(mask));
      mask &= mask - 1;
      for (uint32_t i : by_byte_[static_cast<uint8_t>(data[pos])]) {
        if ((done >> i) & 1 || !CheckCandidate(i, text, pos)) continue;
        done |= uint64_t{1} << i;
        ++counts[i];
      }
    }
  }
#else
  MatchScalar(text, counts);
#endif
}

}  // namespace mailstack::logs
