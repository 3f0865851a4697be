// The stored form of a grant: the value under its handle hash in `grants` (store.h), and the bytes the PostgreSQL
// store keeps for it. A compact binary encoding, versioned by its first byte, written and read without cJSON; the
// JSON of older builds (records.h, GrantFromJson) is still read. Pure functions: thread-safe.
//
//   record  = 0x02 kind set created expires field*       version 2, written by this build
//           | 0x01 (tag value)*                          version 1, read only (below)
//           | '{' ...                                    the JSON of an older build (0x7B), read only
//   kind    = one byte (GrantKind order)
//   set     = uint: bit b is set when the member of bit b is written (table below); its values follow in bit order
//   created = uint
//   expires and every other time = zigzag(time - created) as a uint of up to 2^54 - 1, so times near `created`
//             (an expiry a month on, an auth_time a day before) take three or four bytes instead of five
//   uint    = unsigned LEB128, minimal length; at most 2^53 - 1 (what the JSON form keeps exactly) unless said
//   string  = uint a < 48: the atom of index a (a fixed table of strings every deployment repeats: "", openid,
//             profile, email, offline_access, pwd, mfa, local, name, role, S256, approved, ...; append-only, an
//             unknown index is refused); uint n >= 48: n - 48 bytes follow (UTF-8 is not checked, as in JSON)
//   list    = uint n, n x string                         scopes, amr
//   claims  = uint n, n x (string Type, string Value, string ValueType)
//   family  = uint 0, 16 bytes: an id of the form RandomHandle(16) (base64url of 16 bytes, canonical); else string
//   hash    = 32 bytes, no length                         successor, predecessor, device_code_hash
//   check   = 16 bytes, no length                         handle_check
//
//   bit  member             bit  member              bit  member                bit  member
//    0   client_id string    7   claims               14   consumed_at time      21   device_code_hash hash
//    1   subject string      8   generation uint      15   successor hash        22   decision string
//    2   scopes list         9   predecessor hash     16   access_token_json s.  23   interval uint
//    3   family              10  absolute_expires t.  17   redirect_uri string   24   last_poll time
//    4   auth_time time      11  tenant string        18   nonce string          25   failures uint
//    5   idp string          12  acr string           19   code_challenge s.     26   locked_until time
//    6   amr list            13  session_id string    20   code_challenge_method 27   handle_check check
//
// A member is written only when it is not at its default ("", [], 0, or an absent optional; an optional that is
// present is written even when it is 0), and a member not written reads as the default. A refresh token record with a
// typical claims snapshot is about 120 bytes (version 1: 180, JSON: 740), and a consumed grant's tombstone (records.h)
// about 70. An unknown version, kind, bit or atom, a truncated or overlong value and trailing bytes are errors: a
// record written by a newer build is refused, never silently truncated.
//
// Version 1 (builds before version 2 wrote it; read, never written): tagged fields, tags strictly ascending, each
// field a one-byte tag and its value (uint, or bytes = uint n + n bytes, or lists and claims of such bytes); kind,
// created and expires always present:
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
#pragma once

#include <string>
#include <string_view>

#include "store/records.h"
#include "util/status.h"

namespace tf::store {

inline constexpr char kGrantRecordVersion = 0x02;

// The stored bytes of `grant`, which must satisfy ValidateGrant (the store checks before it encodes). The record is
// written as it is: the store applies ConsumedGrantTombstone to a consumed grant first.
std::string EncodeGrant(const Grant& grant);

// A stored grant: the binary form above (version 2 or 1), or the JSON of an older build (a value that starts with '{', read with
// GrantFromJson). InvalidArgument naming what is wrong otherwise; the grant's invariants are checked (ValidateGrant).
Result<Grant> DecodeGrant(std::string_view stored);

}  // namespace tf::store
