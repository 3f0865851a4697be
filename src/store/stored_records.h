// How every Store implementation turns the records of records.h into stored bytes and back, and the key rules they
// share: the one place that decides what a stored value looks like, so an LMDB environment and a PostgreSQL database
// hold the same bytes for the same record (and `tokenctl copy` needs no conversion). Internal to store/: callers use
// store.h.
//
// Decoding: a stored value that does not parse, or that has a property this build does not know, is a Corruption
// error naming the database and key ("clients 'x': unknown property Colour"). Encoding: a record whose encoding would
// not decode again is refused (InvalidArgument from the record's reader), so such a record is never stored.
//
// Pure functions: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/records.h"
#include "util/status.h"

namespace tf::store {

// A key shown in an error message: quoted and sanitised for a log line.
std::string Printable(std::string_view key);

Result<Client> ParseClient(std::string_view key, std::string_view value);
Result<ApiScope> ParseApiScope(std::string_view key, std::string_view value);
Result<ApiResource> ParseApiResource(std::string_view key, std::string_view value);
Result<IdentityResource> ParseIdentityResource(std::string_view key, std::string_view value);
Result<KeyRecord> ParseKey(std::string_view key, std::string_view value);
Result<User> ParseUser(std::string_view key, std::string_view value);
// Grants are stored in their binary form (grant_encoding.h; JSON records of older builds are read too). Grant keys
// are raw hashes: messages name them in base64url.
Result<Grant> ParseGrant(std::string_view hash, std::string_view value);
Result<FamilyRevocation> ParseRevocation(std::string_view family, std::string_view value);
// What Txn::GetFamilyRevocation answers for the stored value a lookup of `family` found: nullopt when it found none,
// the parsed record, or the lookup's or the parser's error.
Result<std::optional<FamilyRevocation>> StoredRevocation(std::string_view family,
                                                         const Result<std::optional<std::string>>& value);

// The stored form of each record, checked to decode again (InvalidArgument naming the property otherwise).
Result<std::string> EncodeClient(const Client& client);
Result<std::string> EncodeApiScope(const ApiScope& scope);
Result<std::string> EncodeApiResource(const ApiResource& resource);
Result<std::string> EncodeIdentityResource(const IdentityResource& resource);
Result<std::string> EncodeKey(const KeyRecord& key);
Result<std::string> EncodeUser(const User& user);
// A grant in its binary form (grant_encoding.h); one with consumed_at set is kept only as its tombstone (store.h
// "Tombstones"), so a redeemed code costs little space. The binary form holds any bytes of a valid grant, so unlike
// JSON it needs no read-back check.
std::string EncodeStoredGrant(const Grant& grant);
std::string EncodeRevocation(const FamilyRevocation& revocation);

// meta "session_key": kSessionKeySize raw random bytes, or the same sealed with the key-encryption key (at most
// kMaxSessionKeyValueSize, store.h). StoredSessionKey is Txn::GetSessionKey's answer for what a lookup found
// (NotFound when nothing, Corruption for a size out of range); CheckSessionKey is PutSessionKey's check.
inline constexpr size_t kSessionKeySize = 32;
Result<std::string> StoredSessionKey(Result<std::optional<std::string>> value);
Status CheckSessionKey(std::string_view key);

// meta "config_generation" (and "map_size"): a decimal counter.
Result<uint64_t> ParseGeneration(std::string_view v);

inline constexpr size_t kHandleHashSize = 32;
// InvalidArgument unless `hash` is 32 bytes (SHA-256 of a handle).
Status CheckHandleHash(std::string_view hash);
// A family id that can be a key (ValidateGrant): 1..kMaxFamilyIdLength bytes, no NUL.
bool CanBeFamily(std::string_view family);
// What a user-name lookup may be given without being an error of its own: longer or NUL-containing names cannot be
// stored.
bool CanBeUsername(std::string_view tenant, std::string_view username);
// " (no tenant)" or " in tenant 'T'", for messages about user names.
std::string InTenant(std::string_view tenant);

}  // namespace tf::store
