// What every tokenctl command is made of: its definition in the command table (name, synopsis, help, options,
// argument count, the function that runs it), the parsed command line it receives, the Context it runs in, and the
// helpers the commands share for errors, the configuration, the store and --json output.
//
// The command table, option parsing and help live in cli.cc; each command's implementation lives beside the admin
// functions it calls (client_commands.cc beside clients.h, key_commands.cc beside keys.h, ...). A command returns
// an exit code (cli_io.h): it writes its result to ctx.out() (one JSON document when ctx.json) and each error or
// warning as one line on ctx.err(), prefixed "tokenctl: ".
#pragma once

#include <cjson/cJSON.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/cli_io.h"
#include "admin/keys_at_rest.h"
#include "config/config.h"
#include "store/store.h"
#include "util/cjson_ptr.h"
#include "util/status.h"

namespace tf::admin::cli {

struct OptionSpec {
  std::string_view name;  // "--grant"
  bool takes_value;
  std::string_view help;
};

// A command line after option parsing: positional arguments in order, and each option's values in order.
struct Parsed {
  std::vector<std::string> args;
  std::map<std::string, std::vector<std::string>, std::less<>> options;
  bool Has(std::string_view name) const { return options.find(name) != options.end(); }
  std::string Get(std::string_view name) const {
    auto it = options.find(name);
    return it == options.end() || it->second.empty() ? std::string() : it->second.back();
  }
  const std::vector<std::string>& All(std::string_view name) const {
    static const std::vector<std::string> kNone;
    auto it = options.find(name);
    return it == options.end() ? kNone : it->second;
  }
};

struct Context;
struct CommandDef {
  std::string_view name;      // "client secret add"
  std::string_view synopsis;  // after the name
  std::string_view help;
  std::vector<OptionSpec> options;
  size_t min_args, max_args;
  int (*run)(Context&, const Parsed&);
};

struct Context {
  explicit Context(const CliIo& cli_io) : io(cli_io) {}

  const CliIo& io;
  const CommandDef* command = nullptr;
  bool json = false;
  std::string config_arg;  // --config, empty if not given
  std::optional<Config> config;

  std::ostream& out() { return *io.out; }
  std::ostream& err() { return *io.err; }
};

// Errors and warnings: print one line on ctx.err(); Fail and UsageError return the exit code to return.
int Fail(Context& ctx, const Status& s);
int UsageError(Context& ctx, std::string_view message);  // also prints the command's synopsis
void Warn(Context& ctx, std::string_view message);

// Loads ctx.config (once) from --config, $TOKENFCGI_CONFIG or the default path.
Status LoadConfiguration(Context& ctx);
bool DatabaseExists(const Config& config);
// The configured store, opened as the database directory's owner; NotFound ("run: tokenctl init") without one.
Result<std::unique_ptr<store::Store>> OpenStore(Context& ctx, bool read_only);
// The configured key-encryption key (nullopt: none configured), for the commands that write keys.
Result<std::optional<token::KeyEncryptionKey>> ConfiguredKek(Context& ctx);
// The key-encryption key that key encrypt and kek rotate need: configured and readable.
Result<token::KeyEncryptionKey> RequiredKek(Context& ctx);
// A whole file, or standard input for "-".
Result<std::string> ReadFile(const std::string& path, std::istream* stdin_stream);

std::string Join(const std::vector<std::string>& v, std::string_view sep);
std::string Plural(size_t n, std::string_view one, std::string_view many);  // "1 grant", "2 grants"
// The value of an option that, when given, must not be empty ("" would silently mean "any"): false (with
// *exit_code set) on a usage error.
bool NonEmptyOption(Context& ctx, const Parsed& p, std::string_view name, std::string* value, int* exit_code);

// A table for people: a header row and rows of cells, each column as wide as its widest cell (counted in UTF-8
// characters), columns two spaces apart, the last column not padded. An empty cell prints as "-"; control
// characters print as '?', so no content can break a row or the alignment.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void AddRow(std::vector<std::string> cells);
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header
};

// --json output.
CJsonPtr Object();
CJsonPtr Array();
void Add(cJSON* obj, const char* name, std::string_view v);
void Add(cJSON* obj, const char* name, const char* v);  // without it a string literal would choose the bool one
void Add(cJSON* obj, const char* name, bool v);
void Add(cJSON* obj, const char* name, int64_t v);
void Add(cJSON* obj, const char* name, uint64_t v);
void Add(cJSON* obj, const char* name, int v);
void Add(cJSON* obj, const char* name, unsigned v);
void Add(cJSON* obj, const char* name, CJsonPtr v);
void Add(cJSON* obj, const char* name, const std::vector<std::string>& v);
void AddDouble(cJSON* obj, const char* name, double v);
void AddNull(cJSON* obj, const char* name);
void Print(std::ostream& out, const CJsonPtr& doc);

}  // namespace tf::admin::cli
