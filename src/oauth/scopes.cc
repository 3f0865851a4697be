#include "oauth/scopes.h"

#include <algorithm>

namespace tf::oauth {
namespace {

bool IsNqChar(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u <= 0x5B) || (u >= 0x5D && u <= 0x7E);
}

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool IsEnabledIdentityResource(const Snapshot& snapshot, std::string_view name) {
  const store::IdentityResource* r = snapshot.FindIdentityResource(name);
  return r != nullptr && r->enabled;
}

bool IsEnabledApiScope(const Snapshot& snapshot, std::string_view name) {
  const store::ApiScope* s = snapshot.FindApiScope(name);
  return s != nullptr && s->enabled;
}

}  // namespace

Result<std::vector<std::string>> SplitScopes(std::string_view scope) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < scope.size()) {
    if (scope[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = scope.find(' ', i);
    if (end == std::string_view::npos) end = scope.size();
    const std::string_view token = scope.substr(i, end - i);
    if (!std::all_of(token.begin(), token.end(), IsNqChar)) {
      return Status::InvalidArgument("a scope contains a character that is not allowed");
    }
    if (!Contains(out, token)) out.emplace_back(token);
    i = end;
  }
  return out;
}

Result<std::vector<std::string>> ResolveApiScopes(const Snapshot& snapshot, const store::Client& client,
                                                  std::string_view requested) {
  if (requested.size() > kMaxScopeLength) return Status::InvalidArgument("the scope parameter is too long");
  Result<std::vector<std::string>> tokens = SplitScopes(requested);
  if (!tokens.ok()) return tokens.status();

  std::vector<std::string> granted;
  if (tokens->empty()) {
    for (const std::string& name : client.allowed_scopes) {
      const store::ApiScope* s = snapshot.FindApiScope(name);
      if (s == nullptr || !s->enabled) continue;
      if (snapshot.FindIdentityResource(name) != nullptr) continue;
      if (!Contains(granted, name)) granted.push_back(name);
    }
    if (granted.empty()) return Status::InvalidArgument("the client is not allowed any API scope");
    return granted;
  }
  for (const std::string& name : *tokens) {
    if (name == kOfflineAccess || snapshot.FindIdentityResource(name) != nullptr) {
      return Status::InvalidArgument("identity scopes and offline_access cannot be granted to a client alone");
    }
    const store::ApiScope* s = snapshot.FindApiScope(name);
    if (s == nullptr || !s->enabled || !Contains(client.allowed_scopes, name)) {
      return Status::InvalidArgument("a requested scope is unknown or not allowed for this client");
    }
  }
  return std::move(tokens).value();
}

Result<std::vector<std::string>> ResolveUserScopes(const Snapshot& snapshot, const store::Client& client,
                                                   std::string_view requested) {
  if (requested.size() > kMaxScopeLength) return Status::InvalidArgument("the scope parameter is too long");
  Result<std::vector<std::string>> tokens = SplitScopes(requested);
  if (!tokens.ok()) return tokens.status();

  if (tokens->empty()) {
    std::vector<std::string> granted;
    for (const std::string& name : client.allowed_scopes) {
      if (name == kOfflineAccess) continue;
      if (!IsEnabledIdentityResource(snapshot, name) && !IsEnabledApiScope(snapshot, name)) continue;
      if (!Contains(granted, name)) granted.push_back(name);
    }
    if (client.allow_offline_access) granted.emplace_back(kOfflineAccess);
    if (granted.empty()) return Status::InvalidArgument("the client is not allowed any scope");
    return granted;
  }
  for (const std::string& name : *tokens) {
    if (name == kOfflineAccess) {
      if (client.allow_offline_access) continue;
      return Status::InvalidArgument("offline_access is not allowed for this client");
    }
    if (!Contains(client.allowed_scopes, name) ||
        (!IsEnabledIdentityResource(snapshot, name) && !IsEnabledApiScope(snapshot, name))) {
      return Status::InvalidArgument("a requested scope is unknown or not allowed for this client");
    }
  }
  return std::move(tokens).value();
}

}  // namespace tf::oauth
