// The HTTP Basic client credential of RFC 6749 §2.3.1 (RFC 7617 syntax):
//
//   Authorization: Basic base64( form-urlencode(client_id) ":" form-urlencode(client_secret) )
//
// The scheme name is case-insensitive and followed by one or more spaces; the base64 must be strict (RFC 4648 §4,
// padding required); the decoded text is split at the FIRST ':' (so a secret may contain ':'; an id that contains one
// must send it as %3A), and each half is form-urldecoded ('+' is a space) and must be valid UTF-8 without NUL.
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace tf::oauth {

struct BasicCredentials {
  std::string client_id;      // never empty
  std::string client_secret;  // may be empty ("id:" - a public client using Basic)
};

// NotFound when the header is empty or uses another scheme (the client did not use Basic: e.g. "Bearer ...");
// InvalidArgument when it is Basic but malformed (the message never contains the credential).
Result<BasicCredentials> ParseBasicAuthorization(std::string_view header);

}  // namespace tf::oauth
