// Resource-owner administration behind `tokenctl user ...`: add, show, list, passwd, disable, enable, unlock, remove.
//
// A user is addressed by subject id, or by username within a tenant (UserRef). Each change is decided and written in
// one store Update, so it cannot interleave with a password grant updating the same user's lockout state. Passwords
// are hashed (Argon2id, slow on purpose) before the write transaction starts, so LMDB's single writer lock is never
// held while hashing. Plaintext passwords are never stored, returned or put into a Status message; the functions
// here that print or describe a user (PasswordScheme) give only the hash's scheme, never the hash.
//
// Thread-compatible: no state besides the store, which serialises writers itself.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "password/password_hash.h"
#include "store/records.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/status.h"

namespace tf::admin {

// Which user a command means: a subject id, or (when subject_id is empty) a username in a tenant ("" = no tenant),
// or what a person typed (name_or_subject): a username in the tenant, or else a subject id.
struct UserRef {
  std::string subject_id;
  std::string username;
  std::string tenant;
  bool name_or_subject = false;  // `username` may also be a subject id

  static UserRef BySubject(std::string subject) { return UserRef{std::move(subject), "", "", false}; }
  static UserRef ByName(std::string tenant, std::string username) {
    return UserRef{"", std::move(username), std::move(tenant), false};
  }
  static UserRef ByNameOrSubject(std::string tenant, std::string name_or_subject) {
    return UserRef{"", std::move(name_or_subject), std::move(tenant), true};
  }
  // "subject 'x'" or "user 'alice' in tenant 'acme'" (or "... with no tenant"), for messages.
  std::string Describe() const;
};

// The user `ref` names, inside a transaction. NotFound with a message naming the subject or the username.
// For ByNameOrSubject: the user with that username in the tenant, or the user with that subject id; InvalidArgument
// listing both candidates when these are two different users (name one with ByName or BySubject); NotFound when
// neither exists, naming the tenants that do have a user of that name.
Result<store::User> FindUser(store::Txn& txn, const UserRef& ref);

// "'alice' (subject 3f9..., tenant acme)": how messages name a user.
std::string UserLabel(const store::User& u);


// The scheme of a stored PasswordHash, safe to print: "argon2id", "aspnet-identity-v2", "aspnet-identity-v3",
// "none" (empty: no password login) or "unrecognised". Never any part of the hash itself.
std::string PasswordScheme(std::string_view password_hash);

// Checks a plaintext password before hashing: InvalidArgument when shorter than `min_length` bytes (at least 1: never
// empty; the configuration's password_min_length) or longer than kMaxPasswordLength. The message never contains the
// password.
Status ValidateNewPassword(std::string_view password, size_t min_length = 1);

struct NewUser {
  std::string username;                   // required, 1..store::kMaxUsernameLength bytes
  std::string tenant;                     // "" = no tenant
  std::string subject_id;                 // "" = a new random id, RandomHandle(16) (22 characters, no leading '-')
  std::vector<store::ClaimValue> claims;
  bool is_active = true;
  std::optional<std::string> password;    // plaintext, hashed here; nullopt = no password login
};

// The checks AddUser makes before hashing, for callers that want to fail before asking for a password: the record's
// invariants, and that the subject id (when given) and the username in the tenant are free.
Status CheckNewUser(store::Store& store, const NewUser& spec);

// Adds a user with Created = now. AlreadyExists if the subject id exists or the username is taken in the tenant;
// InvalidArgument for a record that breaks User's invariants or a bad password (nothing is hashed then).
Result<store::User> AddUser(store::Store& store, const NewUser& spec, const Argon2Params& params, const Clock& clock);

Result<store::User> GetUser(store::Store& store, const UserRef& ref);

// Every user, ordered by subject id; with `tenant`, only that tenant's users ("" = users without a tenant).
Result<std::vector<store::User>> ListUsers(store::Store& store, const std::optional<std::string>& tenant);

// Removes the user and its username index entry. NotFound if absent. Returns the removed record.
Result<store::User> RemoveUser(store::Store& store, const UserRef& ref);

// Replaces the password (nullopt removes it: the user can no longer sign in with a password), clears the lockout
// state (AccessFailedCount 0, no LockoutEnd) and moves the security stamp (every login session ends), as ASP.NET
// Core Identity's password reset does.
Result<store::User> SetPassword(store::Store& store, const UserRef& ref, const std::optional<std::string>& password,
                                const Argon2Params& params);

// IsActive = active. Disabling also moves the security stamp (every login session of the user ends); enabling
// changes nothing else.
Result<store::User> SetActive(store::Store& store, const UserRef& ref, bool active);

// A new random SecurityStamp (RandomHandle(16)) in `user`: every login session that carries the old one is dead.
void MoveSecurityStamp(store::User* user);

// Moves the user's security stamp in one Update: what `tokenctl session revoke --subject S` does. Every login
// session of the user ends at its next use (authorize, prompt=none, the device verification page); tokens already
// issued are not affected (`tokenctl grants revoke --subject` ends those, and moves the stamp too).
Result<store::User> RevokeSessions(store::Store& store, const UserRef& ref);

// Ends a lockout at once: AccessFailedCount 0 and no LockoutEnd.
Result<store::User> UnlockUser(store::Store& store, const UserRef& ref);

}  // namespace tf::admin
