// User codes of the device flow (RFC 8628 §3.2, §6.1): the short code a user reads off a device and types into the
// verification page (device_page.h).
//
//   letters (default)      8 characters from BCDFGHJKLMNPQRSTVWXZ (20 consonants: no vowels, so no words; no
//                          digits, so no 0/O or 1/I confusion), shown as XXXX-XXXX; 20^8 ~ 2^34.6 codes
//   digits                 the client's UserCodeType is "Numeric" (any ASCII case): 9 digits, shown as XXX-XXX-XXX;
//                          10^9 ~ 2^29.9 codes
// Each character is drawn uniformly (rejection sampling over RAND_bytes).
//
// What the user types is compared after NormalizeUserCode: spaces, tabs and dashes are dropped and ASCII letters are
// upper-cased, so "bcdf-ghjk", "BCDF GHJK" and "bcdfghjk" are one code. A normal form that is neither 8 alphabet
// letters nor 9 digits is no code at all (nullopt), and no lookup is made for it.
//
// The store never holds a user code: it is kept under UserCodeKey = SHA-256("user_code\0" normal form) (the label
// keeps the key apart from every other grant handle's hash), like every grant handle.
//
// Thread-safety: pure functions (RandomBytes is thread-safe).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tf::oauth {

inline constexpr std::string_view kUserCodeLetters = "BCDFGHJKLMNPQRSTVWXZ";
inline constexpr size_t kUserCodeLetterCount = 8;
inline constexpr size_t kUserCodeDigitCount = 9;
// What the page accepts as typed input at most (spaces and dashes included); longer is no code.
inline constexpr size_t kMaxUserCodeInput = 64;

// True when the client's UserCodeType asks for digits ("Numeric", any ASCII case).
bool UserCodeIsNumeric(std::string_view user_code_type);

// A fresh user code in normal form (no dashes).
std::string NewUserCode(bool numeric);

// The typed text in normal form, or nullopt if it cannot be a user code (see above).
std::optional<std::string> NormalizeUserCode(std::string_view typed);

// The normal form as shown to the user: XXXX-XXXX or XXX-XXX-XXX.
std::string FormatUserCode(std::string_view normal);

// The store key of a user code (32 raw bytes) from its normal form.
std::string UserCodeKey(std::string_view normal);

}  // namespace tf::oauth
