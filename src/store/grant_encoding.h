// The stored form of a grant: the value under its handle hash in `grants` (store.h), and the bytes the PostgreSQL
// store keeps for it. A compact binary encoding, versioned by its first byte, written and read without cJSON; the
// JSON of older builds (records.h, GrantFromJson) is still read. Pure functions: thread-safe.
//
//   record  = version field*        version 0x01; a JSON record of an older build starts with '{' (0x7B)
//   field   = tag value             tag: one byte (below); tags strictly ascending, so each at most once
//   uint    = unsigned LEB128       at most 2^53 - 1 (what the JSON form keeps exactly), minimal length
//   bytes   = uint n, n bytes       a string, as stored in the Grant (UTF-8 is not checked here, as in JSON)
//   list    = uint n, n x bytes     scopes, amr
//   claims  = uint n, n x (bytes Type, bytes Value, bytes ValueType)
//
//   tag value   Grant member            tag value   Grant member             tag value   Grant member
//    1  uint    kind (GrantKind order)   11 uint    auth_time                 21 bytes   code_challenge
//    2  bytes   client_id                12 bytes   idp                       22 bytes   code_challenge_method
//    3  bytes   subject                  13 list    amr                       23 bytes   device_code_hash (32)
//    4  list    scopes                   14 bytes   tenant                    24 bytes   decision
//    5  uint    created                  15 bytes   acr                       25 uint    interval
//    6  uint    expires                  16 bytes   session_id                26 uint    last_poll
//    7  uint    absolute_expires         17 claims  claims                    27 uint    failures
//    8  bytes   family                   18 bytes   access_token_json         28 uint    locked_until
//    9  uint    consumed_at              19 bytes   redirect_uri              29 uint    generation
//   10  bytes   successor (32)           20 bytes   nonce                     30 bytes   predecessor (32)
//
// kind, created and expires are always written; any other member is written only when it is not at its default
// ("", [], 0, or an absent optional; an optional that is present is written even when it is 0), and a missing field
// reads as the default. A refresh token record is about 190 bytes where its JSON took about 740, and a consumed
// grant's tombstone (records.h) about 90. An unknown version or tag, a field out of order, a truncated or overlong
// value and trailing bytes are errors: a record written by a newer build is refused, never silently truncated.
#pragma once

#include <string>
#include <string_view>

#include "store/records.h"
#include "util/status.h"

namespace tf::store {

inline constexpr char kGrantRecordVersion = 0x01;

// The stored bytes of `grant`, which must satisfy ValidateGrant (the store checks before it encodes). The record is
// written as it is: the store applies ConsumedGrantTombstone to a consumed grant first.
std::string EncodeGrant(const Grant& grant);

// A stored grant: the binary form above, or the JSON of an older build (a value that starts with '{', read with
// GrantFromJson). InvalidArgument naming what is wrong otherwise; the grant's invariants are checked (ValidateGrant).
Result<Grant> DecodeGrant(std::string_view stored);

}  // namespace tf::store
