// Strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no
// truncated sequences. Used by the form and Basic decoders, which reject invalid text, and by the
// JSON writer, which must never emit it. Thread-safe (pure functions).
#pragma once

#include <cstddef>
#include <string_view>

namespace tf {

// The length (1-4) of the valid UTF-8 sequence starting at s[i], or 0 if none starts there.
size_t Utf8SequenceLength(std::string_view s, size_t i);

bool IsValidUtf8(std::string_view s);

}  // namespace tf
