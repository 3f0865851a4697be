// Internal to http/: the request parameters BuildRequest reads, found in one pass over a FastCGI parameter array
// ("NAME=value" strings, NULL-terminated, as libfcgi's FCGX_ParamArray), instead of one FCGX_GetParam scan with
// strncmp over every parameter for each of the fifteen names. Lookups give exactly what FCGX_GetParam(name, envp)
// gives: the value of the first parameter with that name, or nullptr; a name outside the indexed set falls back to
// a full scan, so adding a parameter to BuildRequest can never silently read nullptr.
//
// Thread-safety: a ParamIndex is a value built for one request on one thread; it borrows `envp`, which must outlive it.
#pragma once

#include <array>
#include <cstring>
#include <string_view>

namespace tf::http::internal {

class ParamIndex {
 public:
  // Every parameter name BuildRequest asks for.
  static constexpr std::array<std::string_view, 15> kNames = {
      "REQUEST_METHOD", "REQUEST_URI",        "SCRIPT_NAME", "PATH_INFO",   "QUERY_STRING",
      "CONTENT_TYPE",   "HTTP_AUTHORIZATION", "REDIRECT_HTTP_AUTHORIZATION", "REMOTE_USER",
      "REMOTE_ADDR",    "HTTP_HOST",          "HTTP_COOKIE", "HTTPS",       "CONTENT_LENGTH",
      "HTTP_ORIGIN"};

  explicit ParamIndex(char** envp) : envp_(envp) {
    for (char** p = envp; p != nullptr && *p != nullptr; ++p) {
      const char* eq = std::strchr(*p, '=');
      if (eq == nullptr) continue;
      const std::string_view name(*p, static_cast<size_t>(eq - *p));
      for (size_t i = 0; i < kNames.size(); ++i) {
        if (name == kNames[i]) {
          if (values_[i] == nullptr) values_[i] = eq + 1;  // the first occurrence wins, as in FCGX_GetParam
          break;
        }
      }
    }
  }

  const char* Get(const char* name) const {
    const std::string_view wanted(name);
    for (size_t i = 0; i < kNames.size(); ++i) {
      if (wanted == kNames[i]) return values_[i];
    }
    return Scan(name);
  }

 private:
  // FCGX_GetParam's own rule, for names outside kNames.
  const char* Scan(const char* name) const {
    const size_t len = std::strlen(name);
    for (char** p = envp_; p != nullptr && *p != nullptr; ++p) {
      if (std::strncmp(name, *p, len) == 0 && (*p)[len] == '=') return *p + len + 1;
    }
    return nullptr;
  }

  char** envp_;
  std::array<const char*, kNames.size()> values_{};
};

}  // namespace tf::http::internal
