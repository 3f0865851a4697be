// Strict decoding of application/x-www-form-urlencoded bodies (the token endpoint's parameters, RFC 6749 §3.2 and
// Appendix B) and of the form-urlencoded parts of a Basic credential (§2.3.1).
//
// Rules, each a 400 invalid_request at the endpoint:
//   - pairs are separated by '&' (empty segments are skipped), a name from its value by the first '=';
//   - '+' is a space; '%' must be followed by exactly two hex digits;
//   - after decoding, names and values must be valid UTF-8 and contain no NUL (raw or %00);
//   - a pair with an empty name is malformed;
//   - more than `max_params` pairs is refused (counting empty ones);
//   - a name sent twice is refused (§3.2: "Request and response parameters MUST NOT be included more than once"),
//     even when one of the two values is empty;
//   - an empty value counts as absent: the pair is dropped (after the duplicate check).
// Error messages name the parameter (when its name is a plain token) and never contain a value, so they can be sent
// back as error_description.
//
// Thread-safety: pure functions; a Form is a plain value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace tf::oauth {

// The decoded parameters, in the order received. Few (<= max_form_params), so a flat vector beats a map.
class Form {
 public:
  // The value, or "" when the parameter is absent (empty values were dropped while decoding).
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const { return !Get(name).empty(); }
  const std::vector<std::pair<std::string, std::string>>& params() const { return params_; }

 private:
  friend Result<Form> DecodeForm(std::string_view body, size_t max_params);
  std::vector<std::pair<std::string, std::string>> params_;
};

Result<Form> DecodeForm(std::string_view body, size_t max_params);

// True if `content_type` names application/x-www-form-urlencoded, whatever its case and parameters.
bool IsFormUrlEncoded(std::string_view content_type);

// Form-urldecodes one name or value: '+' -> ' ', %XX -> byte. InvalidArgument (message: "is not validly
// percent-encoded", "contains a NUL byte" or "is not valid UTF-8", to be prefixed by what was decoded) on failure.
Result<std::string> PercentDecode(std::string_view text);

}  // namespace tf::oauth
