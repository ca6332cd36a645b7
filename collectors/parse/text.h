// ASCII text helpers shared by the parsers of untrusted protocol and DNS
// text (locale-independent).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mailstack::text {

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
inline char AsciiUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
std::string AsciiLower(std::string_view s);
std::string AsciiUpper(std::string_view s);
bool EqualsNoCase(std::string_view a, std::string_view b);
bool StartsWithNoCase(std::string_view s, std::string_view prefix);

// Untrusted text for a message: control and non-ASCII bytes become '?', text
// longer than `max_len` is cut and ends in "...".
std::string Printable(std::string_view s, size_t max_len);

}  // namespace mailstack::text
