#include "oauth/extension_grants.h"

#include <dlfcn.h>

#include <algorithm>
#include <mutex>

#include "oauth/claims.h"
#include "util/log.h"
#include "util/utf8.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kPluginErrorCodes[] = {"invalid_request", "invalid_grant", "unauthorized_client",
                                                  "invalid_scope", "invalid_target"};

std::mutex installed_mu;
std::shared_ptr<const ExtensionGrantPlugins> installed;

// A plug-in's name and dlerror() text go to logs: at most 200 characters, as SanitizeForLog shows them.
std::string Printable(std::string_view s) { return SanitizeForLog(s, 200, Blanks::kKeep); }

// A result string as text: InvalidArgument "<what> ..." when it breaks the string rules or exceeds `max` bytes.
Result<std::string> Text(const tf_string& s, std::string_view what, size_t max) {
  if (s.data == nullptr && s.size != 0) return Status::InvalidArgument(std::string(what) + " has no data but a size");
  if (s.size > max) return Status::InvalidArgument(std::string(what) + " is too long");
  const std::string_view view(s.data == nullptr ? "" : s.data, s.size);
  if (view.find('\0') != std::string_view::npos) return Status::InvalidArgument(std::string(what) + " contains NUL");
  if (!IsValidUtf8(view)) return Status::InvalidArgument(std::string(what) + " is not valid UTF-8");
  return std::string(view);
}

bool IsErrorDescriptionChar(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u == 0x20 || u == 0x21 || (u >= 0x23 && u <= 0x5B) || (u >= 0x5D && u <= 0x7E);
}

}  // namespace

ExtensionGrantPlugins::~ExtensionGrantPlugins() {
  for (auto it = grants_.rbegin(); it != grants_.rend(); ++it) {
    if (it->plugin != nullptr && it->plugin->destroy != nullptr) it->plugin->destroy(it->state);
    if (it->handle != nullptr) dlclose(it->handle);
  }
}

Result<std::unique_ptr<ExtensionGrantPlugins>> ExtensionGrantPlugins::Load(const Config& config) {
  auto plugins = std::make_unique<ExtensionGrantPlugins>();
  for (const ExtensionGrantConfig& c : config.extension_grants) {
    const std::string where = "extension grant " + Printable(c.grant_type) + ": " + Printable(c.library) + ": ";
    ExtensionGrant g;
    g.grant_type = c.grant_type;
    g.library = c.library;
    dlerror();
    g.handle = dlopen(c.library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (g.handle == nullptr) {
      const char* why = dlerror();
      return Status::InvalidArgument(where + "cannot load: " + Printable(why != nullptr ? why : "unknown error"));
    }
    plugins->grants_.push_back(g);  // from here on the destructor closes it
    ExtensionGrant& loaded = plugins->grants_.back();
    using Entry = const tf_extension_grant_plugin* (*)();
    void* symbol = dlsym(loaded.handle, TF_EXTENSION_GRANT_ENTRY);
    if (symbol == nullptr) return Status::InvalidArgument(where + "has no " TF_EXTENSION_GRANT_ENTRY " function");
    const tf_extension_grant_plugin* plugin = reinterpret_cast<Entry>(symbol)();
    if (plugin == nullptr) return Status::InvalidArgument(where + TF_EXTENSION_GRANT_ENTRY "() returned NULL");
    if (plugin->abi_version != TF_EXTENSION_GRANT_ABI_VERSION) {
      return Status::InvalidArgument(where + "ABI version " + std::to_string(plugin->abi_version) +
                                     ", this worker speaks " + std::to_string(TF_EXTENSION_GRANT_ABI_VERSION));
    }
    if (plugin->init == nullptr || plugin->handle == nullptr || plugin->release == nullptr) {
      return Status::InvalidArgument(where + "init, handle or release is NULL");
    }
    loaded.name = Printable(plugin->name != nullptr ? plugin->name : "");
    if (loaded.name.empty()) loaded.name = Printable(c.library);
    char error[256] = {0};
    void* state = nullptr;
    if (plugin->init(c.grant_type.c_str(), c.argument.c_str(), &state, error, sizeof error) != 0) {
      error[sizeof error - 1] = '\0';
      return Status::InvalidArgument(where + "init failed: " + Printable(error));
    }
    loaded.plugin = plugin;  // initialised: the destructor calls destroy()
    loaded.state = state;
  }
  return plugins;
}

const ExtensionGrant* ExtensionGrantPlugins::Find(std::string_view grant_type) const {
  for (const ExtensionGrant& g : grants_) {
    if (g.grant_type == grant_type) return &g;
  }
  return nullptr;
}

void InstallExtensionGrants(std::shared_ptr<const ExtensionGrantPlugins> plugins) {
  std::lock_guard<std::mutex> lock(installed_mu);
  installed = std::move(plugins);
}

const ExtensionGrant* FindExtensionGrant(std::string_view grant_type) {
  std::lock_guard<std::mutex> lock(installed_mu);
  return installed == nullptr ? nullptr : installed->Find(grant_type);
}

Result<ExtensionGrantOutcome> ValidateExtensionGrantResult(const tf_extension_grant_result& result,
                                                           const std::vector<std::string>& requested_scopes,
                                                           int64_t max_lifetime) {
  ExtensionGrantOutcome out;
  if (result.status == TF_EXTENSION_GRANT_ERROR) {
    Result<std::string> error = Text(result.error, "the error code", 64);
    if (!error.ok()) return error.status();
    if (std::find(std::begin(kPluginErrorCodes), std::end(kPluginErrorCodes), *error) ==
        std::end(kPluginErrorCodes)) {
      return Status::InvalidArgument("the error code is not one a plug-in may answer");
    }
    Result<std::string> description =
        Text(result.error_description, "the error_description", TF_EXTENSION_GRANT_MAX_ERROR_DESCRIPTION);
    if (!description.ok()) return description.status();
    if (!std::all_of(description->begin(), description->end(), IsErrorDescriptionChar)) {
      return Status::InvalidArgument("the error_description has a character RFC 6749 does not allow");
    }
    out.error = std::move(error).value();
    out.error_description = std::move(description).value();
    return out;
  }
  if (result.status != TF_EXTENSION_GRANT_OK) return Status::InvalidArgument("the status is neither OK nor ERROR");
  if (result.error.size != 0) return Status::InvalidArgument("an OK result carries an error code");

  Result<std::string> subject = Text(result.subject, "the subject", TF_EXTENSION_GRANT_MAX_SUBJECT);
  if (!subject.ok()) return subject.status();
  if (subject->empty()) return Status::InvalidArgument("the subject is empty");

  if (result.claim_count > TF_EXTENSION_GRANT_MAX_CLAIMS) return Status::InvalidArgument("too many claims");
  if (result.claim_count > 0 && result.claims == nullptr) {
    return Status::InvalidArgument("the claims have no data but a count");
  }
  for (size_t i = 0; i < result.claim_count; ++i) {
    Result<std::string> type = Text(result.claims[i].name, "a claim type", TF_EXTENSION_GRANT_MAX_CLAIM_TYPE);
    if (!type.ok()) return type.status();
    if (type->empty()) return Status::InvalidArgument("a claim type is empty");
    if (IsReservedClaim(*type)) return Status::InvalidArgument("a claim type is a protocol claim");
    Result<std::string> value = Text(result.claims[i].value, "a claim value", TF_EXTENSION_GRANT_MAX_CLAIM_VALUE);
    if (!value.ok()) return value.status();
    out.claims.push_back({std::move(type).value(), std::move(value).value(), ""});
  }

  if (result.scope_count > TF_EXTENSION_GRANT_MAX_SCOPES) return Status::InvalidArgument("too many scopes");
  if (result.scope_count > 0 && result.scopes == nullptr) {
    return Status::InvalidArgument("the scopes have no data but a count");
  }
  for (size_t i = 0; i < result.scope_count; ++i) {
    Result<std::string> scope = Text(result.scopes[i], "a scope", 300);
    if (!scope.ok()) return scope.status();
    if (std::find(requested_scopes.begin(), requested_scopes.end(), *scope) == requested_scopes.end()) {
      return Status::InvalidArgument("a scope is not one of the request's scopes");
    }
    if (std::find(out.scopes.begin(), out.scopes.end(), *scope) == out.scopes.end()) {
      out.scopes.push_back(std::move(scope).value());
    }
  }
  if (out.scopes.empty()) out.scopes = requested_scopes;

  if (result.lifetime < 0 || result.lifetime > max_lifetime) {
    return Status::InvalidArgument("the lifetime is negative or longer than the client's AccessTokenLifetime");
  }
  out.ok = true;
  out.subject = std::move(subject).value();
  out.lifetime = result.lifetime;
  return out;
}

}  // namespace tf::oauth
