#include "util/json_writer.h"

#include "util/utf8.h"

namespace tf {

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    // The common case, plain printable ASCII (tokens, ids, URLs), is appended in one run, not byte by byte.
    size_t clean = i;
    while (clean < s.size()) {
      const unsigned char b = static_cast<unsigned char>(s[clean]);
      if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\') break;
      ++clean;
    }
    if (clean > i) {
      out.append(s, i, clean - i);
      i = clean;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

void JsonWriter::Name(std::string_view name) {
  if (!first_) out_ += ',';
  first_ = false;
  AppendJsonString(out_, name);
  out_ += ':';
}

void JsonWriter::String(std::string_view name, std::string_view value) {
  Name(name);
  AppendJsonString(out_, value);
}

void JsonWriter::Int(std::string_view name, int64_t value) {
  Name(name);
  out_ += std::to_string(value);
}

void JsonWriter::Bool(std::string_view name, bool value) {
  Name(name);
  out_ += value ? "true" : "false";
}

template <typename T>
static void AppendArray(std::string& out, const std::vector<T>& values) {
  out += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out += ',';
    AppendJsonString(out, values[i]);
  }
  out += ']';
}

void JsonWriter::StringArray(std::string_view name, const std::vector<std::string>& values) {
  Name(name);
  AppendArray(out_, values);
}

void JsonWriter::StringArray(std::string_view name, const std::vector<std::string_view>& values) {
  Name(name);
  AppendArray(out_, values);
}

void JsonWriter::Raw(std::string_view name, std::string_view json) {
  Name(name);
  out_.append(json);
}

std::string JsonWriter::Finish() && {
  out_ += '}';
  return std::move(out_);
}

}  // namespace tf
