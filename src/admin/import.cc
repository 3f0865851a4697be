#include "admin/import.h"

#include <cjson/cJSON.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "admin/names.h"
#include "util/base64.h"
#include "util/cjson_ptr.h"
#include "util/clock.h"

namespace tf::admin {
namespace {

std::string JoinPath(std::string_view parent, std::string_view name) {
  if (parent.empty()) return std::string(name);
  std::string out(parent);
  out += '.';
  out += name;
  return out;
}

std::string IndexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

// Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF),
// or npos.
size_t FindInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      const unsigned min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
      if (cc < min || cc > max) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

std::string DescribeOffset(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "byte " + std::to_string(offset) + " (line " + std::to_string(line) + ", column " + std::to_string(column) +
         ")";
}

// cJSON keeps every member of an object even when a name repeats, and lookups see only the first; a repeated name is
// almost always an editing mistake, so it is an error wherever it occurs.
void CheckRepeatedNames(const cJSON* node, const std::string& path, std::vector<std::string>* errors) {
  if (cJSON_IsObject(node)) {
    std::set<std::string_view> seen;
    for (const cJSON* child = node->child; child != nullptr; child = child->next) {
      const std::string_view name = child->string != nullptr ? child->string : "";
      const std::string child_path = JoinPath(path, name);
      if (!seen.insert(name).second) errors->push_back(child_path + ": property appears twice in the same object");
      CheckRepeatedNames(child, child_path, errors);
    }
  } else if (cJSON_IsArray(node)) {
    size_t i = 0;
    for (const cJSON* child = node->child; child != nullptr; child = child->next, ++i) {
      CheckRepeatedNames(child, IndexPath(path, i), errors);
    }
  }
}

// The import form of a user (see import.h): the TestUser properties, with the plaintext Password taken out before
// store::UserFromJson sees the object (a stored record has no Password property at all).
Result<ImportedUser> ParseImportedUser(const cJSON* element, const std::string& path,
                                       std::vector<std::string>* unknown) {
  CJsonPtr copy(cJSON_Duplicate(element, /*recurse=*/1));
  if (copy == nullptr) return Status::Internal(path + ": out of memory");
  ImportedUser user;
  std::set<std::string> unknown_paths;
  // The store's own state, not something a file sets: reported like any other unknown property.
  for (const char* state : {"AccessFailedCount", "LockoutEnd", "Created"}) {
    if (cJSON_GetObjectItemCaseSensitive(copy.get(), state) == nullptr) continue;
    unknown_paths.insert(JoinPath(path, state));
    cJSON_DeleteItemFromObjectCaseSensitive(copy.get(), state);
  }
  const cJSON* hash = cJSON_GetObjectItemCaseSensitive(copy.get(), "PasswordHash");
  const bool has_hash = hash != nullptr && !cJSON_IsNull(hash);
  CJsonPtr password(cJSON_DetachItemFromObjectCaseSensitive(copy.get(), "Password"));
  if (password != nullptr && !cJSON_IsNull(password.get())) {
    // Messages about the password never repeat it.
    const std::string password_path = JoinPath(path, "Password");
    if (!cJSON_IsString(password.get())) return Status::InvalidArgument(password_path + ": expected a string");
    const std::string_view text = password->valuestring;
    if (text.empty()) {
      return Status::InvalidArgument(password_path +
                                     ": empty (leave Password out for a user who cannot sign in with a password)");
    }
    if (text.size() > kMaxPasswordLength) {
      return Status::InvalidArgument(password_path + ": longer than " + std::to_string(kMaxPasswordLength) +
                                     " bytes (the password grant would refuse it)");
    }
    if (has_hash) {
      return Status::InvalidArgument(path + ": both Password and PasswordHash are given; keep only one");
    }
    user.password = std::string(text);
  }
  user.keep_stored_password = !user.password.has_value() && !has_hash;
  std::vector<std::string> record_unknown;
  auto record = store::UserFromJson(copy.get(), path, &record_unknown);
  if (!record.ok()) return record.status();
  user.record = std::move(record).value();
  // In file order, like the other kinds: the store-state names where they appear, store::UserFromJson's own (which
  // may be nested, e.g. "Users[0].Claims[1].Colour") under the top-level property they belong to.
  std::vector<bool> reported(record_unknown.size(), false);
  for (const cJSON* child = element->child; child != nullptr; child = child->next) {
    const std::string child_path = JoinPath(path, child->string != nullptr ? child->string : "");
    if (unknown_paths.erase(child_path)) unknown->push_back(child_path);
    for (size_t i = 0; i < record_unknown.size(); ++i) {
      const std::string& r = record_unknown[i];
      if (reported[i] || r.compare(0, child_path.size(), child_path) != 0) continue;
      if (r.size() == child_path.size() || r[child_path.size()] == '.' || r[child_path.size()] == '[') {
        unknown->push_back(r);
        reported[i] = true;
      }
    }
  }
  for (size_t i = 0; i < record_unknown.size(); ++i) {
    if (!reported[i]) unknown->push_back(record_unknown[i]);
  }
  return user;
}

template <typename T, typename Parse>
void ParseSection(const cJSON* array, const std::string& path, Parse parse, std::vector<Located<T>>* out,
                  std::vector<std::string>* unknown, ImportReport* report) {
  if (cJSON_IsNull(array)) return;  // "Clients": null, as .NET configuration binding would read it: none
  if (!cJSON_IsArray(array)) {
    report->errors.push_back(path + ": expected an array");
    return;
  }
  size_t i = 0;
  for (const cJSON* element = array->child; element != nullptr; element = element->next, ++i) {
    const std::string element_path = IndexPath(path, i);
    if (!cJSON_IsObject(element)) {
      report->errors.push_back(element_path + ": expected an object");
      continue;
    }
    auto parsed = parse(element, element_path, unknown);
    if (!parsed.ok()) {
      report->errors.push_back(parsed.status().message());
      continue;
    }
    out->push_back(Located<T>{element_path, std::move(parsed).value()});
  }
}

// Two records of one kind with the same identifier in one file: the later would silently win, so it is an error.
template <typename T, typename Key>
void CheckDuplicateIds(const std::vector<Located<T>>& records, std::string_view property, Key key,
                       ImportReport* report) {
  std::map<std::string, std::string> first_path;
  for (const auto& r : records) {
    const std::string& id = key(r.record);
    auto [it, inserted] = first_path.emplace(id, r.path);
    if (!inserted) {
      report->errors.push_back(r.path + "." + std::string(property) + ": duplicate " + std::string(property) + " '" +
                               id + "' (also at " + it->second + ")");
    }
  }
}

// The identifiers the store already holds, with their stored JSON for the new/updated/unchanged comparison.
struct Existing {
  std::map<std::string, std::string> clients, api_scopes, api_resources, identity_resources;
  std::map<std::string, store::User> users;  // by SubjectId
};

// Users are read only when the file has some: a store may hold many more users than configuration records.
Status LoadExisting(store::Txn& txn, bool with_users, Existing* existing) {
  auto clients = txn.ListClients();
  if (!clients.ok()) return clients.status();
  for (const auto& c : *clients) existing->clients[c.client_id] = store::ToJson(c);
  auto scopes = txn.ListApiScopes();
  if (!scopes.ok()) return scopes.status();
  for (const auto& s : *scopes) existing->api_scopes[s.name] = store::ToJson(s);
  auto apis = txn.ListApiResources();
  if (!apis.ok()) return apis.status();
  for (const auto& a : *apis) existing->api_resources[a.name] = store::ToJson(a);
  auto ids = txn.ListIdentityResources();
  if (!ids.ok()) return ids.status();
  for (const auto& r : *ids) existing->identity_resources[r.name] = store::ToJson(r);
  if (!with_users) return Status::OK();
  auto users = txn.ListUsers();
  if (!users.ok()) return users.status();
  for (auto& u : *users) existing->users.emplace(u.subject_id, std::move(u));
  return Status::OK();
}

bool IsSharedSecretType(std::string_view type) {
  static constexpr std::string_view kShared = "sharedsecret";
  if (type.size() != kShared.size()) return false;
  for (size_t i = 0; i < type.size(); ++i) {
    char c = type[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kShared[i]) return false;
  }
  return true;
}

// IdentityServer stores base64(SHA-256(secret)) or base64(SHA-512(secret)); a Value of any other shape is usually the
// plain secret pasted by mistake, and could never match.
void CheckSecretValues(const std::vector<store::Secret>& secrets, const std::string& path, ImportReport* report) {
  for (size_t i = 0; i < secrets.size(); ++i) {
    if (!IsSharedSecretType(secrets[i].type)) continue;
    const auto digest = Base64Decode(secrets[i].value);
    if (digest && (digest->size() == 32 || digest->size() == 64)) continue;
    report->warnings.push_back(IndexPath(path, i) +
                               ".Value: not base64 of a SHA-256 or SHA-512 digest, so no secret can ever match it "
                               "(store the hash: printf %s SECRET | openssl dgst -sha256 -binary | base64)");
  }
}

// A claim whose ValueType is unknown, or whose Value does not fit its type (OpenID Connect Core §5.1's for a standard
// claim), is refused: it would otherwise reach tokens and userinfo as a string a relying party rejects.
void CheckClaims(const std::vector<store::ClaimValue>& claims, const std::string& path, const std::string& record,
                 ImportReport* report) {
  for (size_t i = 0; i < claims.size(); ++i) {
    const Status checked = store::CheckClaimValue(claims[i]);
    if (!checked.ok()) report->errors.push_back(IndexPath(path, i) + " of " + record + ": " + checked.message());
  }
}

void CheckPlanClaims(const ImportPlan& plan, ImportReport* report) {
  for (const auto& c : plan.clients) {
    CheckClaims(c.record.claims, c.path + ".Claims", "client '" + c.record.client_id + "'", report);
  }
  for (const auto& u : plan.users) {
    CheckClaims(u.record.record.claims, u.path + ".Claims", "user '" + u.record.record.username + "'", report);
  }
}

void CrossCheck(const ImportPlan& plan, const Existing& existing, const std::vector<std::string>& extension_grants,
                ImportReport* report) {
  std::set<std::string> api_scopes, identity_resources;
  for (const auto& [name, json] : existing.api_scopes) api_scopes.insert(name);
  for (const auto& [name, json] : existing.identity_resources) identity_resources.insert(name);
  for (const auto& s : plan.api_scopes) api_scopes.insert(s.record.name);
  for (const auto& r : plan.identity_resources) identity_resources.insert(r.record.name);

  for (const auto& c : plan.clients) {
    CheckSecretValues(c.record.client_secrets, c.path + ".ClientSecrets", report);
    for (size_t i = 0; i < c.record.allowed_scopes.size(); ++i) {
      const std::string& scope = c.record.allowed_scopes[i];
      if (scope == kOfflineAccessScope || api_scopes.count(scope) || identity_resources.count(scope)) continue;
      report->warnings.push_back(IndexPath(c.path + ".AllowedScopes", i) + ": scope '" + scope +
                                 "' is neither an ApiScope nor an IdentityResource in the file or the store");
    }
    for (size_t i = 0; i < c.record.allowed_grant_types.size(); ++i) {
      const std::string& grant = c.record.allowed_grant_types[i];
      if (IsKnownGrantType(grant) ||
          std::find(extension_grants.begin(), extension_grants.end(), grant) != extension_grants.end()) {
        continue;
      }
      report->warnings.push_back(IndexPath(c.path + ".AllowedGrantTypes", i) + ": unknown grant type '" + grant +
                                 "' (an extension grant no extension_grant line of the configuration serves?)");
    }
  }
  for (const auto& a : plan.api_resources) {
    CheckSecretValues(a.record.api_secrets, a.path + ".ApiSecrets", report);
    for (size_t i = 0; i < a.record.scopes.size(); ++i) {
      const std::string& scope = a.record.scopes[i];
      if (api_scopes.count(scope)) continue;
      report->warnings.push_back(IndexPath(a.path + ".Scopes", i) + ": scope '" + scope +
                                 "' is not an ApiScope in the file or the store");
    }
  }
  for (const auto& r : plan.identity_resources) {
    if (api_scopes.count(r.record.name)) {
      report->warnings.push_back(r.path + ".Name: '" + r.record.name + "' is both an IdentityResource and an ApiScope");
    }
  }
  for (const auto& u : plan.users) {
    if (!u.record.keep_stored_password) continue;
    auto it = existing.users.find(u.record.record.subject_id);
    if (it != existing.users.end() && !it->second.password_hash.empty()) continue;
    report->warnings.push_back(u.path + ": no Password or PasswordHash, so '" + u.record.record.username +
                               "' cannot sign in with a password");
  }
}

// Counts (and, when txn is given, writes) one kind of record.
template <typename T, typename Key, typename Put>
Status Apply(const std::vector<Located<T>>& records, const std::map<std::string, std::string>& existing, Key key,
             Put put, ImportCounts* counts) {
  for (const auto& r : records) {
    const std::string json = store::ToJson(r.record);
    auto it = existing.find(key(r.record));
    if (it == existing.end()) {
      ++counts->added;
    } else if (it->second == json) {
      ++counts->unchanged;
      continue;
    } else {
      ++counts->updated;
    }
    TF_RETURN_IF_ERROR(put(r.record));
  }
  return Status::OK();
}

// The `usernames` index key of a user: unique per tenant, ignoring ASCII case (store.h).
std::string UsernameKey(const store::User& user) {
  return user.tenant + std::string(1, '\0') + store::NormalizeUsername(user.username);
}

std::string DescribeTenant(const std::string& tenant) {
  return tenant.empty() ? std::string("with no tenant") : "in tenant '" + tenant + "'";
}

// Hashes the plaintext Passwords of the file (outside any transaction: Argon2id is slow on purpose). When the store
// already holds a hash of the same password made with the current parameters, that hash is kept, so re-importing the
// same file is "unchanged". fresh[i] says whether plan->users[i] gets a new hash; with dry_run nothing is hashed.
Status PreparePasswords(store::Store* store, const ImportOptions& options, ImportPlan* plan, std::vector<bool>* fresh) {
  fresh->assign(plan->users.size(), false);
  std::map<std::string, std::string> stored;  // SubjectId -> stored hash, for users with a plaintext Password
  const bool any_password = std::any_of(plan->users.begin(), plan->users.end(),
                                        [](const Located<ImportedUser>& u) { return u.record.password.has_value(); });
  if (store != nullptr && any_password) {
    TF_RETURN_IF_ERROR(store->Read([&](store::Txn& txn) -> Status {
      for (const auto& u : plan->users) {
        if (!u.record.password) continue;
        auto user = txn.GetUser(u.record.record.subject_id);
        if (user.ok()) {
          stored[user->subject_id] = user->password_hash;
        } else if (!user.status().IsNotFound()) {
          return user.status();
        }
      }
      return Status::OK();
    }));
  }
  for (size_t i = 0; i < plan->users.size(); ++i) {
    ImportedUser& u = plan->users[i].record;
    if (!u.password) continue;
    auto it = stored.find(u.record.subject_id);
    if (it != stored.end() && !it->second.empty()) {
      const PasswordCheck check = VerifyPassword(it->second, *u.password, options.password_params);
      if (check.match && !check.needs_rehash) {
        u.record.password_hash = it->second;
        continue;
      }
    }
    (*fresh)[i] = true;
    if (options.dry_run) continue;
    auto hash = HashPassword(*u.password, options.password_params);
    if (!hash.ok()) {
      return Status::InvalidArgument(plan->users[i].path + ".Password: cannot hash: " + hash.status().message());
    }
    u.record.password_hash = std::move(hash).value();
  }
  return Status::OK();
}

// Counts (and, when txn is given, writes) the users. Lockout state and Created stay as stored; a new user gets
// Created = now.
Status ApplyUsers(const ImportPlan& plan, const std::vector<bool>& fresh, const Existing& existing, int64_t now,
                  store::Txn* txn, ImportReport* report) {
  // A username held by a store user that the file does not mention cannot be taken.
  std::set<std::string> file_subjects;
  for (const auto& u : plan.users) file_subjects.insert(u.record.record.subject_id);
  std::map<std::string, std::string> taken;  // username key -> SubjectId
  for (const auto& [subject, user] : existing.users) {
    if (!file_subjects.count(subject)) taken.emplace(UsernameKey(user), subject);
  }
  std::vector<std::string> conflicts;
  for (const auto& u : plan.users) {
    auto it = taken.find(UsernameKey(u.record.record));
    if (it == taken.end()) continue;
    conflicts.push_back(u.path + ".Username: '" + u.record.record.username + "' " +
                        DescribeTenant(u.record.record.tenant) + " already belongs to subject '" + it->second +
                        "', which the file does not mention");
  }
  if (!conflicts.empty()) {
    report->errors.insert(report->errors.end(), conflicts.begin(), conflicts.end());
    return Status::InvalidArgument(conflicts.front());
  }

  std::vector<store::User> to_write;
  std::vector<std::string> renamed;  // subjects whose username key changes: their old index entries go first
  for (size_t i = 0; i < plan.users.size(); ++i) {
    const ImportedUser& u = plan.users[i].record;
    store::User user = u.record;
    auto it = existing.users.find(user.subject_id);
    if (it == existing.users.end()) {
      user.created = now;
      ++report->users.added;
    } else {
      const store::User& old = it->second;
      user.access_failed_count = old.access_failed_count;
      user.lockout_end = old.lockout_end;
      user.created = old.created;
      if (u.keep_stored_password) user.password_hash = old.password_hash;
      if (!fresh[i] && store::ToJson(user) == store::ToJson(old)) {
        ++report->users.unchanged;
        continue;
      }
      ++report->users.updated;
      if (UsernameKey(old) != UsernameKey(user)) renamed.push_back(user.subject_id);
    }
    to_write.push_back(std::move(user));
  }
  if (txn == nullptr) return Status::OK();
  // Removing renamed users first lets users of the file swap or pass on usernames within one import.
  for (const std::string& subject : renamed) TF_RETURN_IF_ERROR(txn->RemoveUser(subject));
  for (const store::User& user : to_write) TF_RETURN_IF_ERROR(txn->PutUser(user));
  return Status::OK();
}

Status ApplyPlan(const ImportPlan& plan, const std::vector<bool>& fresh, const Existing& existing, int64_t now,
                 store::Txn* txn, ImportReport* report) {
  auto noop = [](const auto&) { return Status::OK(); };
  auto client_id = [](const store::Client& c) -> const std::string& { return c.client_id; };
  auto name = [](const auto& r) -> const std::string& { return r.name; };
  if (txn == nullptr) {
    TF_RETURN_IF_ERROR(Apply(plan.api_scopes, existing.api_scopes, name, noop, &report->api_scopes));
    TF_RETURN_IF_ERROR(Apply(plan.api_resources, existing.api_resources, name, noop, &report->api_resources));
    TF_RETURN_IF_ERROR(
        Apply(plan.identity_resources, existing.identity_resources, name, noop, &report->identity_resources));
    TF_RETURN_IF_ERROR(Apply(plan.clients, existing.clients, client_id, noop, &report->clients));
    return ApplyUsers(plan, fresh, existing, now, nullptr, report);
  }
  TF_RETURN_IF_ERROR(Apply(
      plan.api_scopes, existing.api_scopes, name, [&](const store::ApiScope& r) { return txn->PutApiScope(r); },
      &report->api_scopes));
  TF_RETURN_IF_ERROR(Apply(
      plan.api_resources, existing.api_resources, name,
      [&](const store::ApiResource& r) { return txn->PutApiResource(r); }, &report->api_resources));
  TF_RETURN_IF_ERROR(Apply(
      plan.identity_resources, existing.identity_resources, name,
      [&](const store::IdentityResource& r) { return txn->PutIdentityResource(r); }, &report->identity_resources));
  TF_RETURN_IF_ERROR(Apply(
      plan.clients, existing.clients, client_id, [&](const store::Client& r) { return txn->PutClient(r); },
      &report->clients));
  return ApplyUsers(plan, fresh, existing, now, txn, report);
}

// .NET's configuration reader accepts comments and trailing commas in appsettings.json (JsonCommentHandling.Skip,
// AllowTrailingCommas); cJSON does not. Blanks out `// ...` and `/* ... */` comments and every comma that is followed
// (past blanks) by '}' or ']', outside strings. Every other byte, newlines included, stays where it was, so cJSON's
// error offsets and DescribeOffset's line:column still point into the file as written. An unterminated `/*` is left
// as it is, for cJSON to report.
std::string WithoutCommentsAndTrailingCommas(std::string_view text) {
  std::string out(text);
  bool in_string = false;
  for (size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '/') {
      for (; i < out.size() && out[i] != '\n'; ++i) out[i] = ' ';
    } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '*') {
      const size_t end = out.find("*/", i + 2);
      if (end == std::string::npos) break;
      for (size_t j = i; j < end + 2; ++j) {
        if (out[j] != '\n') out[j] = ' ';
      }
      i = end + 1;
    }
  }
  in_string = false;
  for (size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == ',') {
      size_t next = i + 1;
      while (next < out.size() && (out[next] == ' ' || out[next] == '\t' || out[next] == '\r' || out[next] == '\n')) {
        ++next;
      }
      if (next < out.size() && (out[next] == '}' || out[next] == ']')) out[i] = ' ';
    }
  }
  return out;
}

}  // namespace

ImportPlan ParseImport(std::string_view json_text, const ImportOptions& options, ImportReport* report) {
  ImportPlan plan;
  if (json_text.find('\0') != std::string_view::npos) {
    report->errors.push_back("malformed JSON: NUL byte at " + DescribeOffset(json_text, json_text.find('\0')));
    return plan;
  }
  if (const size_t bad = FindInvalidUtf8(json_text); bad != std::string_view::npos) {
    report->errors.push_back("malformed JSON: invalid UTF-8 at " + DescribeOffset(json_text, bad));
    return plan;
  }
  // The length includes the terminating NUL so that require_null_terminated rejects trailing garbage.
  const std::string buffer = WithoutCommentsAndTrailingCommas(json_text);
  const char* parse_end = nullptr;
  CJsonPtr root(cJSON_ParseWithLengthOpts(buffer.c_str(), buffer.size() + 1, &parse_end,
                                          /*require_null_terminated=*/1));
  if (root == nullptr) {
    // cJSON's error position is the offending byte or the one just after it.
    const size_t offset = parse_end != nullptr && parse_end >= buffer.c_str()
                              ? static_cast<size_t>(parse_end - buffer.c_str())
                              : 0;
    report->errors.push_back("malformed JSON near " + DescribeOffset(json_text, offset));
    return plan;
  }
  if (!cJSON_IsObject(root.get())) {
    report->errors.push_back("(root): expected a JSON object with Clients, ApiScopes, ApiResources, "
                             "IdentityResources or Users, or an IdentityServer section holding them");
    return plan;
  }
  // cJSON cuts a string at "\u0000": refuse it before any record is read with a shorter name than the file's.
  if (std::optional<std::string> where = store::FindNulEscape(json_text)) {
    report->errors.push_back((where->empty() ? std::string("(root)") : *where) +
                             ": contains a NUL character (\\u0000)");
    return plan;
  }
  CheckRepeatedNames(root.get(), "", &report->errors);

  std::vector<std::string> unknown;
  const cJSON* section = root.get();
  std::string prefix;
  static const std::set<std::string_view> kSections = {"Clients", "ApiScopes", "ApiResources", "IdentityResources",
                                                       "Users"};
  if (const cJSON* wrapped = cJSON_GetObjectItemCaseSensitive(root.get(), "IdentityServer"); wrapped != nullptr) {
    if (!cJSON_IsObject(wrapped)) {
      report->errors.push_back("IdentityServer: expected an object");
      return plan;
    }
    // An appsettings.json as it is: Users may stand beside the section (IdentityServer keeps test users outside its
    // options); the application's other sections (Logging, AllowedHosts, ...) are not ours and are skipped with one
    // note.
    std::string skipped;
    for (const cJSON* child = root->child; child != nullptr; child = child->next) {
      const std::string_view child_name = child->string;
      if (child_name == "IdentityServer") continue;
      if (child_name == "Users") {
        if (cJSON_GetObjectItemCaseSensitive(wrapped, "Users") != nullptr) {
          report->errors.push_back("Users: found both beside and inside the IdentityServer section; keep one");
        } else {
          ParseSection(child, "Users", ParseImportedUser, &plan.users, &unknown, report);
        }
      } else if (kSections.count(child_name)) {
        report->errors.push_back(std::string(child_name) +
                                 ": found beside the IdentityServer section; move it inside that section");
      } else {
        skipped += (skipped.empty() ? "" : ", ") + std::string(child_name);
      }
    }
    if (!skipped.empty()) {
      report->warnings.push_back(skipped + ": not IdentityServer configuration; skipped");
    }
    section = wrapped;
    prefix = "IdentityServer";
  }

  bool any_section = false;
  for (const cJSON* child = section->child; child != nullptr; child = child->next) {
    const std::string_view child_name = child->string;
    const std::string path = JoinPath(prefix, child_name);
    if (child_name == "Clients") {
      ParseSection(child, path, store::ClientFromJson, &plan.clients, &unknown, report);
    } else if (child_name == "ApiScopes") {
      ParseSection(child, path, store::ApiScopeFromJson, &plan.api_scopes, &unknown, report);
    } else if (child_name == "ApiResources") {
      ParseSection(child, path, store::ApiResourceFromJson, &plan.api_resources, &unknown, report);
    } else if (child_name == "IdentityResources") {
      ParseSection(child, path, store::IdentityResourceFromJson, &plan.identity_resources, &unknown, report);
    } else if (child_name == "Users") {
      ParseSection(child, path, ParseImportedUser, &plan.users, &unknown, report);
    } else {
      unknown.push_back(path);
      continue;
    }
    any_section = true;
  }
  for (const Located<ImportedUser>& u : plan.users) {
    if (u.record.password && u.record.password->size() < options.password_min_length) {
      report->errors.push_back(u.path + ".Password: shorter than password_min_length (" +
                               std::to_string(options.password_min_length) + " bytes)");
    }
  }
  if (!any_section) {
    report->warnings.push_back(std::string(prefix.empty() ? "(root)" : prefix) +
                               ": no Clients, ApiScopes, ApiResources, IdentityResources or Users to import");
  }

  for (const std::string& path : unknown) {
    report->unknown.push_back(path);
    if (options.ignore_unknown) {
      report->warnings.push_back(path + ": unknown property ignored");
    } else {
      report->errors.push_back(path + ": unknown property (use --ignore-unknown to import without it)");
    }
  }

  auto client_id = [](const store::Client& c) -> const std::string& { return c.client_id; };
  auto name = [](const auto& r) -> const std::string& { return r.name; };
  CheckDuplicateIds(plan.clients, "ClientId", client_id, report);
  CheckDuplicateIds(plan.api_scopes, "Name", name, report);
  CheckDuplicateIds(plan.api_resources, "Name", name, report);
  CheckDuplicateIds(plan.identity_resources, "Name", name, report);
  CheckDuplicateIds(
      plan.users, "SubjectId", [](const ImportedUser& u) -> const std::string& { return u.record.subject_id; },
      report);
  std::map<std::string, std::string> usernames;  // username key -> first path
  for (const auto& u : plan.users) {
    auto [it, inserted] = usernames.emplace(UsernameKey(u.record.record), u.path);
    if (!inserted) {
      report->errors.push_back(u.path + ".Username: duplicate Username '" + u.record.record.username + "' " +
                               DescribeTenant(u.record.record.tenant) + " (also at " + it->second +
                               "; user names ignore ASCII case)");
    }
  }
  return plan;
}

Status Import(std::string_view json_text, store::Store* store, const ImportOptions& options, ImportReport* report) {
  *report = ImportReport();
  ImportPlan plan = ParseImport(json_text, options, report);
  CheckPlanClaims(plan, report);
  if (!report->errors.empty()) return Status::InvalidArgument(report->errors.front());
  if (store == nullptr && !options.dry_run) {
    return Status::InvalidArgument("import needs a store unless it is a dry run");
  }

  const int64_t now = (options.clock != nullptr ? options.clock : SystemClock::Default())->NowSeconds();
  std::vector<bool> fresh;
  if (Status s = PreparePasswords(store, options, &plan, &fresh); !s.ok()) {
    report->errors.push_back(s.message());
    return s;
  }
  if (store == nullptr) {
    const Existing none;
    CrossCheck(plan, none, options.extension_grant_types, report);
    Status s = ApplyPlan(plan, fresh, none, now, nullptr, report);
    if (!s.ok() && std::find(report->errors.begin(), report->errors.end(), s.message()) == report->errors.end()) {
      report->errors.push_back(s.message());
    }
    return s;
  }

  // The warnings and counts are computed inside the transaction that writes, so they describe exactly what was
  // written; a retried callback starts from a clean slate.
  const ImportReport parsed = *report;
  auto run = [&](store::Txn& txn, bool write) -> Status {
    *report = parsed;
    Existing existing;
    TF_RETURN_IF_ERROR(LoadExisting(txn, !plan.users.empty(), &existing));
    CrossCheck(plan, existing, options.extension_grant_types, report);
    return ApplyPlan(plan, fresh, existing, now, write ? &txn : nullptr, report);
  };
  Status s = options.dry_run ? store->Read([&](store::Txn& txn) { return run(txn, false); })
                             : store->Update([&](store::Txn& txn) { return run(txn, true); });
  if (!s.ok()) {
    if (std::find(report->errors.begin(), report->errors.end(), s.message()) == report->errors.end()) {
      report->errors.push_back(s.message());
    }
    return s;
  }
  report->written = !options.dry_run;
  return Status::OK();
}

}  // namespace tf::admin
