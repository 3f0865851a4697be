#include "admin/users.h"

#include <utility>

#include "store/lockout.h"
#include "util/base64.h"
#include "util/crypto.h"

namespace tf::admin {
namespace {

// Subject ids tokenctl makes: 16 random bytes, base64url (22 characters), never beginning with '-' (so that one can
// always be typed as a command-line argument).
constexpr size_t kSubjectIdBytes = 16;

std::string NewSubjectId() {
  while (true) {
    std::string id = RandomHandle(kSubjectIdBytes);
    if (id[0] != '-') return id;
  }
}

Result<std::optional<std::string>> HashIfGiven(const std::optional<std::string>& password,
                                               const Argon2Params& params) {
  if (!password) return std::optional<std::string>();
  TF_RETURN_IF_ERROR(ValidateNewPassword(*password));
  auto hash = HashPassword(*password, params);
  if (!hash.ok()) return hash.status();
  return std::optional<std::string>(std::move(hash).value());
}

// Reads the user, applies `change` and writes it back, all in one Update.
template <typename Change>
Result<store::User> Modify(store::Store& store, const UserRef& ref, Change change) {
  store::User result;
  Status s = store.Update([&](store::Txn& txn) -> Status {
    auto user = FindUser(txn, ref);
    if (!user.ok()) return user.status();
    change(&*user);
    TF_RETURN_IF_ERROR(txn.PutUser(*user));
    result = std::move(user).value();
    return Status::OK();
  });
  if (!s.ok()) return s;
  return result;
}

store::User NewUserRecord(const NewUser& spec, std::string subject_id) {
  store::User user;
  user.subject_id = std::move(subject_id);
  user.username = spec.username;
  user.tenant = spec.tenant;
  user.is_active = spec.is_active;
  user.claims = spec.claims;
  return user;
}

}  // namespace

std::string UserRef::Describe() const {
  if (!subject_id.empty()) return "subject '" + subject_id + "'";
  return (name_or_subject ? "user or subject '" : "user '") + username + "' " +
         (tenant.empty() ? std::string("with no tenant") : "in tenant '" + tenant + "'");
}

std::string UserLabel(const store::User& u) {
  return "'" + u.username + "' (subject " + u.subject_id + (u.tenant.empty() ? "" : ", tenant " + u.tenant) + ")";
}

namespace {

// NotFound or a store error becomes nullopt or the error.
Result<std::optional<store::User>> Optional(Result<store::User> user) {
  if (user.ok()) return std::optional<store::User>(std::move(user).value());
  if (user.status().IsNotFound()) return std::optional<store::User>();
  return user.status();
}

Result<store::User> FindUserByNameOrSubject(store::Txn& txn, const UserRef& ref) {
  auto by_name = Optional(txn.FindUserByName(ref.tenant, ref.username));
  if (!by_name.ok()) return by_name.status();
  auto by_subject = Optional(txn.GetUser(ref.username));
  if (!by_subject.ok()) return by_subject.status();
  if (*by_name && *by_subject && (*by_name)->subject_id != (*by_subject)->subject_id) {
    return Status::InvalidArgument("'" + ref.username + "' is ambiguous: the username of " + UserLabel(**by_name) +
                                   " and the subject id of " + UserLabel(**by_subject) +
                                   " (say which with --username " + ref.username + " or --subject " + ref.username +
                                   ")");
  }
  if (*by_name) return std::move(**by_name);
  if (*by_subject) return std::move(**by_subject);
  // Neither: say where users of that name are, so that the right --tenant is one step away.
  auto users = txn.ListUsers();
  if (!users.ok()) return users.status();
  std::string elsewhere;
  for (const store::User& u : *users) {
    if (u.username == ref.username) elsewhere += (elsewhere.empty() ? "" : ", ") + UserLabel(u);
  }
  if (!elsewhere.empty()) elsewhere = "; users of that name: " + elsewhere + " (use --tenant)";
  return Status::NotFound("no " + ref.Describe() + elsewhere);
}

}  // namespace

Result<store::User> FindUser(store::Txn& txn, const UserRef& ref) {
  if (ref.name_or_subject) return FindUserByNameOrSubject(txn, ref);
  Result<store::User> user =
      ref.subject_id.empty() ? txn.FindUserByName(ref.tenant, ref.username) : txn.GetUser(ref.subject_id);
  if (!user.ok() && user.status().IsNotFound()) return Status::NotFound("no " + ref.Describe());
  return user;
}


std::string PasswordScheme(std::string_view password_hash) {
  if (password_hash.empty()) return "none";
  if (password_hash.substr(0, 10) == "$argon2id$") return "argon2id";
  const auto raw = Base64Decode(password_hash);
  if (raw && !raw->empty()) {
    if ((*raw)[0] == 0x00) return "aspnet-identity-v2";
    if ((*raw)[0] == 0x01) return "aspnet-identity-v3";
  }
  return "unrecognised";
}

Status ValidateNewPassword(std::string_view password, size_t min_length) {
  if (password.empty()) return Status::InvalidArgument("the password is empty");
  if (password.size() < min_length) {
    return Status::InvalidArgument("the password is shorter than password_min_length (" + std::to_string(min_length) +
                                   " bytes)");
  }
  if (password.size() > kMaxPasswordLength) {
    return Status::InvalidArgument("the password is longer than " + std::to_string(kMaxPasswordLength) +
                                   " bytes (the password grant would refuse it)");
  }
  return Status::OK();
}

Status CheckNewUser(store::Store& store, const NewUser& spec) {
  // A placeholder subject when none is given: the random one is checked again in AddUser's transaction.
  const store::User user = NewUserRecord(spec, spec.subject_id.empty() ? "-" : spec.subject_id);
  if (user.username.size() > store::kMaxUsernameLength) {
    return Status::InvalidArgument("Username: longer than " + std::to_string(store::kMaxUsernameLength) + " characters");
  }
  TF_RETURN_IF_ERROR(store::ValidateUser(user));
  return store.Read([&](store::Txn& txn) -> Status {
    if (!spec.subject_id.empty() && txn.GetUser(spec.subject_id).ok()) {
      return Status::AlreadyExists("subject '" + spec.subject_id + "' exists");
    }
    auto other = txn.FindUserByName(user.tenant, user.username);
    if (other.ok()) {
      return Status::AlreadyExists(UserRef::ByName(user.tenant, user.username).Describe() + " exists (subject '" +
                                   other->subject_id + "')");
    }
    return other.status().IsNotFound() ? Status::OK() : other.status();
  });
}

Result<store::User> AddUser(store::Store& store, const NewUser& spec, const Argon2Params& params, const Clock& clock) {
  if (spec.password) TF_RETURN_IF_ERROR(ValidateNewPassword(*spec.password));
  // Fail fast, before spending time on the hash; the Update below checks again.
  TF_RETURN_IF_ERROR(CheckNewUser(store, spec));
  store::User user = NewUserRecord(spec, spec.subject_id.empty() ? NewSubjectId() : spec.subject_id);
  user.created = clock.NowSeconds();
  auto hash = HashIfGiven(spec.password, params);
  if (!hash.ok()) return hash.status();
  if (*hash) user.password_hash = **hash;
  Status s = store.Update([&](store::Txn& txn) -> Status {
    if (txn.GetUser(user.subject_id).ok()) return Status::AlreadyExists("subject '" + user.subject_id + "' exists");
    return txn.PutUser(user);
  });
  if (!s.ok()) return s;
  return user;
}

Result<store::User> GetUser(store::Store& store, const UserRef& ref) {
  store::User result;
  Status s = store.Read([&](store::Txn& txn) -> Status {
    auto user = FindUser(txn, ref);
    if (!user.ok()) return user.status();
    result = std::move(user).value();
    return Status::OK();
  });
  if (!s.ok()) return s;
  return result;
}

Result<std::vector<store::User>> ListUsers(store::Store& store, const std::optional<std::string>& tenant) {
  std::vector<store::User> result;
  Status s = store.Read([&](store::Txn& txn) -> Status {
    auto users = txn.ListUsers();
    if (!users.ok()) return users.status();
    for (auto& u : *users) {
      if (!tenant || u.tenant == *tenant) result.push_back(std::move(u));
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  return result;
}

Result<store::User> RemoveUser(store::Store& store, const UserRef& ref) {
  store::User removed;
  Status s = store.Update([&](store::Txn& txn) -> Status {
    auto user = FindUser(txn, ref);
    if (!user.ok()) return user.status();
    TF_RETURN_IF_ERROR(txn.RemoveUser(user->subject_id));
    removed = std::move(user).value();
    return Status::OK();
  });
  if (!s.ok()) return s;
  return removed;
}

Result<store::User> SetPassword(store::Store& store, const UserRef& ref, const std::optional<std::string>& password,
                                const Argon2Params& params) {
  if (password) TF_RETURN_IF_ERROR(ValidateNewPassword(*password));
  auto existing = GetUser(store, ref);  // fail before hashing when the user does not exist
  if (!existing.ok()) return existing.status();
  auto hash = HashIfGiven(password, params);
  if (!hash.ok()) return hash.status();
  // By subject from here on: a rename between the two transactions must not send the password to another user.
  return Modify(store, UserRef::BySubject(existing->subject_id), [&](store::User* user) {
    user->password_hash = hash->value_or("");
    store::RecordSuccessfulLogin(user);  // AccessFailedCount = 0, LockoutEnd cleared
    MoveSecurityStamp(user);
  });
}

Result<store::User> SetActive(store::Store& store, const UserRef& ref, bool active) {
  return Modify(store, ref, [&](store::User* user) {
    user->is_active = active;
    if (!active) MoveSecurityStamp(user);
  });
}

void MoveSecurityStamp(store::User* user) { user->security_stamp = RandomHandle(16); }

Result<store::User> RevokeSessions(store::Store& store, const UserRef& ref) {
  return Modify(store, ref, [](store::User* user) { MoveSecurityStamp(user); });
}

Result<store::User> UnlockUser(store::Store& store, const UserRef& ref) {
  return Modify(store, ref, [](store::User* user) { store::RecordSuccessfulLogin(user); });
}

}  // namespace tf::admin
