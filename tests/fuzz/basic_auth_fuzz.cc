// libFuzzer target: any bytes as an Authorization header value must not crash ParseBasicAuthorization, and an
// accepted credential has a non-empty id and no NUL or invalid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "oauth/basic_auth.h"
#include "util/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  tf::Result<tf::oauth::BasicCredentials> c = tf::oauth::ParseBasicAuthorization(header);
  if (!c.ok()) return 0;
  if (c->client_id.empty()) abort();
  for (const std::string* s : {&c->client_id, &c->client_secret}) {
    if (s->find('\0') != std::string::npos || !tf::IsValidUtf8(*s)) abort();
  }
  return 0;
}
