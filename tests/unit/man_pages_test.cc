// The man pages cannot drift from the code: the parts of packaging/man/ between
//
//   .\" BEGIN GENERATED <what>      and      .\" END GENERATED <what>
//
// are exactly what this file renders from the tables the programs themselves use: tokenctl(8)'s COMMANDS from
// tokenctl's command table (admin::CommandDocs), tokenfcgi.conf(5)'s KEYS from the configuration key table
// (ConfigKeys), tokenfcgi(8)'s grant types from the grant table (oauth::GrantTypes). When a table changes, this test
// fails; `TF_UPDATE_MAN=1 build/tests/man_pages_test` (from the source directory or anywhere) rewrites the generated
// parts in place, leaving everything else in the pages as written.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "admin/cli.h"
#include "config/config_keys.h"
#include "oauth/grant.h"
#include "test_paths.h"

namespace tf {
namespace {

// Text as roff shows it: backslashes and hyphens escaped, no line that a control character would start.
std::string Roff(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
    line_start = c == '\n';
  }
  return out;
}

std::string OneLine(std::string_view text) {  // a synopsis that wraps with "\n    " in --help
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n') {
      out += text[i];
      continue;
    }
    out += ' ';
    while (i + 1 < text.size() && text[i + 1] == ' ') ++i;
  }
  return out;
}

std::string CommandsRoff() {
  std::string out;
  for (const admin::CommandDoc& c : admin::CommandDocs()) {
    out += ".TP\n\\fB" + Roff(c.name) + "\\fR";
    if (!c.synopsis.empty()) out += " " + Roff(OneLine(c.synopsis));
    out += "\n";
    std::string_view help = c.help;
    bool first = true;
    while (!help.empty()) {
      const size_t end = help.find("\n\n");
      std::string_view paragraph = help.substr(0, end);
      help = end == std::string_view::npos ? std::string_view() : help.substr(end + 2);
      if (!first) out += ".IP\n";
      if (paragraph.rfind("example", 0) == 0) {
        out += ".nf\n" + Roff(paragraph) + "\n.fi\n";
      } else {
        out += Roff(paragraph) + "\n";
      }
      first = false;
    }
    if (c.options.empty()) continue;
    out += ".RS\n";
    for (const admin::CommandDoc::Option& o : c.options) {
      out += ".TP\n.B " + Roff(o.name) + (o.takes_value ? " \\fIVALUE\\fR" : "") + "\n" + Roff(o.help) + "\n";
    }
    out += ".RE\n";
  }
  return out;
}

std::string ConfigKeysRoff() {
  std::string out;
  for (const ConfigKeyInfo& k : ConfigKeys()) {
    out += ".TP\n.B " + Roff(k.key) + "\n" + Roff(k.doc) + "\n.br\n";
    if (std::string_view(k.key) == "issuer") {
      out += "Required.\n";
    } else {
      out += std::string("Default: ") + (k.default_value[0] ? "\\fB" + Roff(k.default_value) + "\\fR" : "empty");
      out += (k.unit[0] ? std::string("; unit: ") + Roff(k.unit) : std::string()) + ".\n";
    }
  }
  return out;
}

std::string GrantTypesRoff() {
  std::string out;
  for (const oauth::GrantType& g : oauth::GrantTypes()) out += ".IP \\(bu 2\n.B " + Roff(g.name) + "\n";
  return out;
}

std::string ManPath(const std::string& name) {
  return std::string(test_paths::SourceDir()) + "/packaging/man/" + name;
}

// Checks (or, with TF_UPDATE_MAN set, rewrites) the part of `page` between the markers of `what`.
void CheckGenerated(const std::string& page, const std::string& what, const std::string& generated) {
  std::ifstream in(ManPath(page));
  ASSERT_TRUE(in) << ManPath(page);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  const std::string begin = ".\\\" BEGIN GENERATED " + what + "\n";
  const std::string end = ".\\\" END GENERATED " + what + "\n";
  const size_t b = text.find(begin);
  ASSERT_NE(b, std::string::npos) << page << " has no line: " << begin;
  const size_t e = text.find(end, b);
  ASSERT_NE(e, std::string::npos) << page << " has no line: " << end;
  const std::string current = text.substr(b + begin.size(), e - b - begin.size());
  if (current == generated) return;
  if (std::getenv("TF_UPDATE_MAN") != nullptr) {
    text.replace(b + begin.size(), current.size(), generated);
    std::ofstream(ManPath(page), std::ios::binary | std::ios::trunc) << text;
    return;
  }
  ADD_FAILURE() << page << ": the generated " << what << " differ from the code's table; rewrite them with\n"
                << "  TF_UPDATE_MAN=1 build/tests/man_pages_test\nand review the diff. Expected:\n"
                << generated;
}

TEST(ManPagesTest, TokenctlCommandsMatchTheCommandTable) {
  CheckGenerated("tokenctl.8", "COMMANDS", CommandsRoff());
}

TEST(ManPagesTest, ConfigurationKeysMatchTheKeyTable) {
  CheckGenerated("tokenfcgi.conf.5", "KEYS", ConfigKeysRoff());
}

TEST(ManPagesTest, TokenfcgiGrantTypesMatchTheGrantTable) {
  CheckGenerated("tokenfcgi.8", "GRANT TYPES", GrantTypesRoff());
}

// Roff itself: what the generated text relies on.
TEST(ManPagesTest, RoffEscapesWhatRoffWouldInterpret) {
  EXPECT_EQ(Roff("a-b \\n"), "a\\-b \\en");
  EXPECT_EQ(Roff(".x\n'y\nz.w"), "\\&.x\n\\&'y\nz.w");
  EXPECT_EQ(OneLine("ID [--a]\n    [--b]"), "ID [--a] [--b]");
}

}  // namespace
}  // namespace tf
