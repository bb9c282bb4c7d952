// text: untrusted bytes made safe to print, and checked as text.
//
// Scenario files, file names and program output come from other hands. A
// diagnostic that echoes them must not let a terminal escape sequence or a
// newline inside a key rewrite the screen or fake a second diagnostic, so
// every diagnostic passes names and values through printable(). Free-text
// fields of a scenario must be UTF-8 without NUL (textProblem()).
//
// Threading: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace deadpeer {

// `text` with every byte a terminal would act on escaped: C0 controls and
// DEL as \n, \t, \r, \e or \xNN, and each byte of an invalid UTF-8 sequence
// as \xNN. A backslash stays as it is. Valid UTF-8 letters pass unchanged.
std::string printable(std::string_view text);

// Why `text` is not acceptable as a free-text field: "contains a NUL byte at
// offset 3" or "is not valid UTF-8 at offset 7"; nullopt when it is fine.
std::optional<std::string> textProblem(std::string_view text);

// The length of the valid UTF-8 sequence at the start of `text` (1-4), or 0
// when it does not start with one (overlong forms, surrogates and code
// points past U+10FFFF are invalid, as in RFC 3629).
std::size_t utf8SequenceLength(std::string_view text) noexcept;

}  // namespace deadpeer
