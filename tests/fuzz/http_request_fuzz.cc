// libFuzzer target for the FastCGI adapter's request decoding (BuildRequest) and response framing
// (SerializeResponse). The input chooses the CGI parameters, the body cap, the body and how the body reader splits
// it; the target checks the adapter's promises rather than just "does not crash":
//   - never more than the cap is read or kept, and a body over the cap is not read at all;
//   - a complete body has exactly CONTENT_LENGTH bytes; a malformed CONTENT_LENGTH is kIncomplete;
//   - every copied parameter is bounded; the path never contains the query;
//   - a serialised response has exactly one header line per header plus the status and length lines, none of them
//     containing CR or LF, and Content-Length equal to the body size.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "http/fcgi_server.h"

namespace {

constexpr size_t kParamCap = 16 * 1024;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

void Check(bool cond, const char* what) {
  if (!cond) Fail(what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tf::http::BodyState;
  FuzzedDataProvider in(data, size);

  static const char* const kNames[] = {"REQUEST_METHOD", "REQUEST_URI", "SCRIPT_NAME", "PATH_INFO",
                                       "QUERY_STRING", "CONTENT_TYPE", "HTTP_AUTHORIZATION",
                                       "REDIRECT_HTTP_AUTHORIZATION", "REMOTE_USER", "REMOTE_ADDR", "HTTP_HOST",
                                       "HTTP_COOKIE", "HTTPS", "CONTENT_LENGTH"};
  std::map<std::string, std::string> params;
  for (const char* name : kNames) {
    if (in.ConsumeBool()) {
      std::string v = in.ConsumeRandomLengthString(64);
      if (in.ConsumeIntegralInRange<int>(0, 15) == 0) v.append(kParamCap + 7, 'x');  // sometimes over the cap
      params[name] = v.substr(0, std::strlen(v.c_str()));  // C strings end at NUL, as FCGX_GetParam's do
    }
  }
  const uint64_t cap = in.ConsumeIntegralInRange<uint64_t>(0, 4096);
  const int chunk = in.ConsumeIntegralInRange<int>(1, 300);
  const bool fail_at_end = in.ConsumeBool();
  const std::string body = in.ConsumeRandomLengthString(8192);

  size_t offset = 0;
  int calls = 0;
  auto lookup = [&params](const char* name) -> const char* {
    auto it = params.find(name);
    return it == params.end() ? nullptr : it->second.c_str();
  };
  auto reader = [&](char* buf, int len) -> int {
    ++calls;
    Check(len > 0, "reader asked for a non-positive length");
    size_t n = std::min({static_cast<size_t>(len), body.size() - offset, static_cast<size_t>(chunk)});
    if (n == 0) return fail_at_end ? -1 : 0;
    std::memcpy(buf, body.data() + offset, n);
    offset += n;
    return static_cast<int>(n);
  };
  tf::http::Request r = tf::http::BuildRequest(lookup, reader, cap);

  // What CONTENT_LENGTH says, independently computed.
  std::optional<std::string> cl;
  if (params.count("CONTENT_LENGTH")) cl = params["CONTENT_LENGTH"];
  Check(r.body.size() <= cap, "body longer than the cap");
  Check(offset <= cap, "read more than the cap");
  if (!cl || cl->empty()) {
    Check(r.body_state == BodyState::kComplete && r.body.empty() && calls == 0, "no CONTENT_LENGTH, yet a body");
  } else if (cl->find_first_not_of("0123456789") != std::string::npos) {
    Check(r.body_state == BodyState::kIncomplete && calls == 0, "malformed CONTENT_LENGTH accepted");
  } else {
    std::string digits = cl->substr(std::min(cl->find_first_not_of('0'), cl->size()));
    bool over = digits.size() > 19 || (!digits.empty() && std::stoull(digits) > cap);
    if (over) {
      Check(r.body_state == BodyState::kTooLarge && calls == 0 && r.body.empty(), "over-cap body was read");
    } else {
      uint64_t want = digits.empty() ? 0 : std::stoull(digits);
      if (want <= body.size()) {
        Check(r.body_state == BodyState::kComplete && r.body == body.substr(0, want), "complete body differs");
      } else {
        Check(r.body_state == BodyState::kIncomplete && r.body.empty(), "short body not reported");
      }
    }
  }
  for (const std::string* field : {&r.method, &r.query, &r.content_type, &r.authorization, &r.remote_user,
                                   &r.remote_addr, &r.host, &r.cookie}) {
    Check(field->size() <= kParamCap, "a parameter copy exceeds the cap");
  }
  Check(r.path.size() <= 2 * kParamCap, "path exceeds the cap");
  if (params.count("REQUEST_URI") && !params["REQUEST_URI"].empty()) {
    Check(r.path.find('?') == std::string::npos, "path contains the query");
  }

  // Response framing with hostile header names and values.
  tf::http::Response resp;
  resp.status = in.ConsumeIntegralInRange<int>(100, 599);
  size_t kept = 0;
  const int nheaders = in.ConsumeIntegralInRange<int>(0, 5);
  for (int i = 0; i < nheaders; ++i) {
    std::string name = in.ConsumeRandomLengthString(16);
    std::string value = in.ConsumeRandomLengthString(64);
    std::string lower;  // the whole name, NULs included, as the serializer compares it
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower != "status" && lower != "content-length") ++kept;
    resp.SetHeader(name, value);
  }
  resp.body = in.ConsumeRemainingBytesAsString();
  std::string out = tf::http::SerializeResponse(resp);
  size_t head_end = out.find("\r\n\r\n");
  Check(head_end != std::string::npos, "no end of headers");
  Check(out.substr(head_end + 4) == resp.body, "body altered");
  std::string head = out.substr(0, head_end + 2);
  size_t lines = 0;
  for (size_t pos = 0; pos < head.size();) {
    size_t eol = head.find("\r\n", pos);
    Check(eol != std::string::npos, "unterminated header line");
    std::string line = head.substr(pos, eol - pos);
    Check(line.find('\r') == std::string::npos && line.find('\n') == std::string::npos, "CR or LF in a header");
    pos = eol + 2;
    ++lines;
  }
  Check(lines == kept + 2, "header count differs (injection or loss)");
  Check(out.rfind("Status: " + std::to_string(resp.status) + " ", 0) == 0, "status line");
  Check(head.find("\r\nContent-Length: " + std::to_string(resp.body.size()) + "\r\n") != std::string::npos,
        "Content-Length");
  return 0;
}
