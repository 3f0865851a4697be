// A small writer for the compact JSON objects this service emits (token responses, errors, access-token claims,
// discovery). It appends to one string with no intermediate tree, so a token's claims are
// serialised once and never re-parsed. Strings are escaped per RFC 8259 (", \, control characters); bytes that are
// not valid UTF-8 are replaced with U+FFFD so the output is always valid JSON. The writer does not check structure
// (balanced objects, duplicate names): callers write straight-line code. Not thread-safe; one writer per document.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tf {

// Appends `s` to `out` as a JSON string literal, quotes included, escaped as above: the one JSON string escaper.
void AppendJsonString(std::string& out, std::string_view s);

class JsonWriter {
 public:
  JsonWriter() { out_ = "{"; }

  void String(std::string_view name, std::string_view value);
  void Int(std::string_view name, int64_t value);
  void Bool(std::string_view name, bool value);
  void StringArray(std::string_view name, const std::vector<std::string>& values);
  void StringArray(std::string_view name, const std::vector<std::string_view>& values);
  // `json` must already be a complete JSON value (object, array, number, ...).
  void Raw(std::string_view name, std::string_view json);

  // Closes the object and returns the text; the writer must not be used afterwards.
  std::string Finish() &&;

 private:
  void Name(std::string_view name);
  std::string out_;
  bool first_ = true;
};

}  // namespace tf
