#include "oauth/acr_values.h"

#include <algorithm>

namespace tf::oauth {
namespace {

bool IsControl(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7F;
}

// Reads the NAME of a "prefix:NAME" selector into *out; `what` names the selector in messages.
Status TakeSelector(std::string_view value, std::string_view prefix, size_t max_length, std::string_view what,
                    std::string* out) {
  if (!out->empty()) return Status::InvalidArgument("acr_values names more than one " + std::string(what));
  const std::string_view name = value.substr(prefix.size());
  if (name.empty()) return Status::InvalidArgument("the " + std::string(what) + " in acr_values is empty");
  if (name.size() > max_length) {
    return Status::InvalidArgument("the " + std::string(what) + " in acr_values is too long");
  }
  *out = std::string(name);
  return Status::OK();
}

}  // namespace

Result<AcrValues> ParseAcrValues(std::string_view acr_values) {
  if (acr_values.size() > kMaxAcrValuesLength) return Status::InvalidArgument("acr_values is too long");
  if (std::any_of(acr_values.begin(), acr_values.end(), IsControl)) {
    return Status::InvalidArgument("acr_values contains a control character");
  }
  AcrValues out;
  size_t i = 0;
  while (i < acr_values.size()) {
    if (acr_values[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = acr_values.find(' ', i);
    if (end == std::string_view::npos) end = acr_values.size();
    const std::string_view value = acr_values.substr(i, end - i);
    i = end;
    if (value.starts_with(kTenantPrefix)) {
      TF_RETURN_IF_ERROR(TakeSelector(value, kTenantPrefix, store::kMaxTenantLength, "tenant", &out.tenant));
    } else if (value.starts_with(kIdpPrefix)) {
      TF_RETURN_IF_ERROR(TakeSelector(value, kIdpPrefix, kMaxIdpLength, "identity provider", &out.idp));
    } else if (std::find(out.acr.begin(), out.acr.end(), value) == out.acr.end()) {
      out.acr.emplace_back(value);
    }
  }
  return out;
}

}  // namespace tf::oauth
