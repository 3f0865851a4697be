#include "admin/command.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <ostream>
#include <memory>
#include <sstream>
#include <utility>

#include "admin/database_owner.h"
#include "store/pg_store.h"

namespace tf::admin::cli {

CJsonPtr Object() { return CJsonPtr(cJSON_CreateObject()); }
CJsonPtr Array() { return CJsonPtr(cJSON_CreateArray()); }

void Add(cJSON* obj, const char* name, std::string_view v) {
  cJSON_AddItemToObject(obj, name, cJSON_CreateString(std::string(v).c_str()));
}
void Add(cJSON* obj, const char* name, const char* v) { Add(obj, name, std::string_view(v)); }
void Add(cJSON* obj, const char* name, bool v) { cJSON_AddItemToObject(obj, name, cJSON_CreateBool(v)); }
void Add(cJSON* obj, const char* name, int64_t v) {
  cJSON_AddItemToObject(obj, name, cJSON_CreateNumber(static_cast<double>(v)));
}
void Add(cJSON* obj, const char* name, uint64_t v) { Add(obj, name, static_cast<int64_t>(v)); }
void AddDouble(cJSON* obj, const char* name, double v) { cJSON_AddItemToObject(obj, name, cJSON_CreateNumber(v)); }
void Add(cJSON* obj, const char* name, int v) { Add(obj, name, static_cast<int64_t>(v)); }
void Add(cJSON* obj, const char* name, unsigned v) { Add(obj, name, static_cast<int64_t>(v)); }
void Add(cJSON* obj, const char* name, CJsonPtr v) { cJSON_AddItemToObject(obj, name, v.release()); }
void Add(cJSON* obj, const char* name, const std::vector<std::string>& v) {
  CJsonPtr arr = Array();
  for (const auto& s : v) cJSON_AddItemToArray(arr.get(), cJSON_CreateString(s.c_str()));
  Add(obj, name, std::move(arr));
}
void AddNull(cJSON* obj, const char* name) { cJSON_AddItemToObject(obj, name, cJSON_CreateNull()); }

void Print(std::ostream& out, const CJsonPtr& doc) {
  std::unique_ptr<char, void (*)(void*)> text(cJSON_Print(doc.get()), cJSON_free);
  out << (text ? text.get() : "null") << "\n";
}

int Fail(Context& ctx, const Status& s) {
  ctx.err() << "tokenctl: " << s.message() << "\n";
  return kExitError;
}

int UsageError(Context& ctx, std::string_view message) {
  ctx.err() << "tokenctl: " << message << "\n";
  if (ctx.command != nullptr) {
    ctx.err() << "usage: tokenctl " << ctx.command->name << " " << ctx.command->synopsis << "\n";
  } else {
    ctx.err() << "usage: tokenctl [--config FILE] [--json] COMMAND ... (tokenctl --help lists the commands)\n";
  }
  return kExitUsage;
}

void Warn(Context& ctx, std::string_view message) { ctx.err() << "tokenctl: warning: " << message << "\n"; }

Status LoadConfiguration(Context& ctx) {
  if (ctx.config) return Status::OK();
  const std::string path = DefaultConfigPath(ctx.config_arg.empty() ? nullptr : ctx.config_arg.c_str());
  auto config = LoadConfig(path);
  if (!config.ok()) return config.status();
  ctx.config = std::move(config).value();
  return Status::OK();
}

bool DatabaseExists(const Config& config) {
  if (store::IsPostgresUri(config.database)) return true;  // the open says whether it is initialised
  struct stat st;
  return ::stat((config.database + "/data.mdb").c_str(), &st) == 0;
}

Result<std::unique_ptr<store::Store>> OpenStore(Context& ctx, bool read_only) {
  TF_RETURN_IF_ERROR(LoadConfiguration(ctx));
  if (!DatabaseExists(*ctx.config)) {
    return Status::NotFound("no database at " + store::RedactedDatabase(ctx.config->database) +
                            " (run: tokenctl init)");
  }
  store::StoreOptions options = store::StoreOptionsFromConfig(*ctx.config);
  options.read_only = read_only;
  return OpenStoreAsDirectoryOwner(options);
}

Result<std::optional<token::KeyEncryptionKey>> ConfiguredKek(Context& ctx) {
  TF_RETURN_IF_ERROR(LoadConfiguration(ctx));
  return LoadKeyEncryptionKey(*ctx.config);
}

Result<token::KeyEncryptionKey> RequiredKek(Context& ctx) {
  auto kek = ConfiguredKek(ctx);
  if (!kek.ok()) return kek.status();
  if (!kek->has_value()) {
    return Status::InvalidArgument("key_encryption_key_file is not set in " +
                                   DefaultConfigPath(ctx.config_arg.empty() ? nullptr : ctx.config_arg.c_str()) +
                                   " (set it, then run tokenctl init to create the file)");
  }
  return std::move(**kek);
}

Result<std::string> ReadFile(const std::string& path, std::istream* stdin_stream) {
  std::ostringstream content;
  if (path == "-") {
    content << stdin_stream->rdbuf();
    return content.str();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::NotFound(path + ": " + std::strerror(errno));
  content << file.rdbuf();
  if (file.bad()) return Status::IOError(path + ": read failed");
  return content.str();
}

namespace {

size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count UTF-8 lead bytes, not continuation bytes
  return n;
}

std::string Printable(std::string s) {
  if (s.empty()) return "-";
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return s;
}

}  // namespace

Table::Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

void Table::AddRow(std::vector<std::string> cells) {
  for (std::string& c : cells) c = Printable(std::move(c));
  rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] + 2 - DisplayWidth(row[i]), ' ');
    }
    out << line << "\n";
  }
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

std::string Plural(size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

bool NonEmptyOption(Context& ctx, const Parsed& p, std::string_view name, std::string* value, int* exit_code) {
  if (!p.Has(name)) return true;
  *value = p.Get(name);
  if (value->empty()) {
    *exit_code = UsageError(ctx, std::string(name) + " needs a non-empty value");
    return false;
  }
  return true;
}

}  // namespace tf::admin::cli
