#include "oauth/form.h"

#include "util/ascii.h"
#include "util/utf8.h"

namespace tf::oauth {
namespace {

bool IsOws(char c) { return c == ' ' || c == '\t'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A name is quoted back in an error only when it is a plain token, so a description never carries arbitrary
// request bytes.
bool IsPlainName(std::string_view name) {
  if (name.empty() || name.size() > 40) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string Subject(std::string_view name) {
  if (IsPlainName(name)) return "parameter '" + std::string(name) + "'";
  return "a parameter";
}

}  // namespace

std::string_view Form::Get(std::string_view name) const {
  for (const auto& [n, v] : params_) {
    if (n == name) return v;
  }
  return {};
}

Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (text.size() - i < 3) return Status::InvalidArgument("is not validly percent-encoded");
      const int hi = HexValue(text[i + 1]);
      const int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return Status::InvalidArgument("is not validly percent-encoded");
      out += static_cast<char>((hi << 4) | lo);
      i += 2;
    } else {
      out += c;
    }
  }
  if (out.find('\0') != std::string::npos) return Status::InvalidArgument("contains a NUL byte");
  if (!IsValidUtf8(out)) return Status::InvalidArgument("is not valid UTF-8");
  return out;
}

bool IsFormUrlEncoded(std::string_view content_type) {
  static constexpr std::string_view kMediaType = "application/x-www-form-urlencoded";
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && IsOws(media.front())) media.remove_prefix(1);
  while (!media.empty() && IsOws(media.back())) media.remove_suffix(1);
  if (media.size() != kMediaType.size()) return false;
  for (size_t i = 0; i < media.size(); ++i) {
    if (AsciiLower(media[i]) != kMediaType[i]) return false;
  }
  return true;
}

Result<Form> DecodeForm(std::string_view body, size_t max_params) {
  Form form;
  // Names of every pair seen, including those dropped for an empty value, for the duplicate check.
  std::vector<std::string> seen;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view pair = body.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    if (seen.size() >= max_params) {
      return Status::InvalidArgument("too many parameters (at most " + std::to_string(max_params) + ")");
    }
    const size_t eq = pair.find('=');
    const std::string_view raw_name = pair.substr(0, eq);
    const std::string_view raw_value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);

    Result<std::string> name = PercentDecode(raw_name);
    if (!name.ok()) return Status::InvalidArgument("a parameter name " + name.status().message());
    if (name->empty()) return Status::InvalidArgument("a parameter has no name");
    Result<std::string> value = PercentDecode(raw_value);
    if (!value.ok()) return Status::InvalidArgument(Subject(*name) + " " + value.status().message());

    for (const std::string& s : seen) {
      if (s == *name) return Status::InvalidArgument(Subject(*name) + " is repeated");
    }
    seen.push_back(*name);
    if (value->empty()) continue;  // empty values count as absent
    form.params_.emplace_back(std::move(name).value(), std::move(value).value());
  }
  return form;
}

}  // namespace tf::oauth
