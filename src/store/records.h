// The records kept in LMDB, modelled on IdentityServer's own (Client, ApiScope, ApiResource, IdentityResource, and
// TestUser for User) so that `tokenctl import` of an existing appsettings.json keeps every property, including those
// of grant types tokenfcgi does not serve. Plain values: thread-compatible; the functions below are pure and
// thread-safe.
//
// On disk each record is one compact JSON object with IdentityServer's PascalCase property names plus "v": the record
// format version (currently 1). The same FromJson functions read stored records and imported files, so the import
// format and the storage format cannot drift apart:
//   - property names are matched exactly (PascalCase); "v" is accepted and checked;
//   - enums accept IdentityServer's names or numbers (RefreshTokenUsage: ReUse=0, OneTimeOnly=1; RefreshTokenExpiration:
//     Sliding=0, Absolute=1; AccessTokenType: Jwt=0, Reference=1);
//   - dates (ClientSecrets[].Expiration) accept a JSON number of Unix seconds or a string in the grammar of
//     util/timestamp.h ("2030-01-01T00:00:00Z", "2030-01-01", ...), and are written as Unix seconds;
//   - missing properties take IdentityServer's defaults (the initialisers below);
//   - an unknown property is appended to `unknown` as a JSON path ("Clients[2].AllowedGrantType") and otherwise
//     ignored (with unknown == nullptr it is an error: "Clients[2].Colour: unknown property"); a bad value is an
//     InvalidArgument error whose message starts with the JSON path
//     ("Clients[0].AccessTokenLifetime: expected a non-negative integer");
//   - JSON null means "absent" (the default applies); a property given twice is an error;
//   - required: ClientId (1..100 characters), Name (resources), ClientSecrets[].Value, Claims[].Type, SubjectId and
//     Username (users), and for keys Kid, Alg and PrivateKeyPem. KeyRecordFromJson has no `unknown` list: an unknown
//     property is an error.
// Lengths are counted in bytes of UTF-8.
// ToJson writes compact JSON with "v":1 first and then every property in the order of the structs below (absent
// optionals as null, enums by name, dates as Unix seconds), so a stored record is self-describing. For example:
//   {"v":1,"Kid":"k1","Alg":"ES256","State":"current","Created":1700000000,"PrivateKeyPem":"-----BEGIN ..."}
//
// Times are Unix seconds; lifetimes are seconds.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

struct cJSON;

namespace tf::store {

inline constexpr int kRecordVersion = 1;

// Length limits (bytes) of the identifiers in the records, IdentityServer's InputLengthRestrictions where it has one.
// The record readers and the Txn writers enforce them; the endpoints and tokenctl refuse longer input with the same
// constants, since a longer value could never be stored or presented.
inline constexpr size_t kMaxClientIdLength = 100;      // Client.ClientId, Grant.client_id
inline constexpr size_t kMaxClientSecretLength = 100;  // a client or API secret as presented, before hashing
inline constexpr size_t kMaxSubjectIdLength = 200;     // User.SubjectId, Grant.subject
inline constexpr size_t kMaxUsernameLength = 100;      // User.Username
inline constexpr size_t kMaxTenantLength = 100;        // User.Tenant
inline constexpr size_t kMaxFamilyIdLength = 200;      // Grant.family

// A client secret or API secret as IdentityServer stores it: for Type "SharedSecret" the Value is
// base64(SHA-256(secret)) (44 chars) or base64(SHA-512(secret)) (88 chars); the secret itself is never stored.
struct Secret {
  std::string type = "SharedSecret";
  std::string value;
  std::string description;
  std::optional<int64_t> expiration;  // Unix seconds; absent = never expires
};

struct ClaimValue {
  std::string type;
  std::string value;
  std::string value_type;  // optional, as IdentityServer's ClientClaim.ValueType
};

// The JSON type a claim's value takes in tokens and userinfo (ClaimValueJsonType). ValueType names, as IdentityServer
// writes them: "" or "string", "boolean", "integer", "double", "json", and the XML Schema URIs of .NET's
// ClaimValueTypes, "http://www.w3.org/2001/XMLSchema#" followed by string, boolean, integer, int, integer32,
// integer64, long, uinteger32, uinteger64, double, date, dateTime, time, anyURI. Anything else is unknown (nullopt):
// `tokenctl import` refuses it.
enum class ClaimJsonType { kString, kBoolean, kInteger, kDouble, kJson, kObject };
std::optional<ClaimJsonType> ParseClaimValueType(std::string_view value_type);

// The JSON type of a claim: the type OpenID Connect Core §5.1 gives a standard claim (email_verified and
// phone_number_verified boolean, updated_at integer, address object, the others string) whatever its ValueType says;
// else its ValueType's (string when unknown).
ClaimJsonType ClaimValueJsonType(const ClaimValue& claim);

// Whether claim.value is a valid value of ClaimValueJsonType(claim) (InvalidArgument naming the type otherwise):
// boolean true/false (or .NET's True/False), integer a decimal int64, double a finite JSON number, json any JSON text,
// object a JSON object; the unknown ValueType is an error too. What `tokenctl import` checks for every claim.
Status CheckClaimValue(const ClaimValue& claim);

enum class RefreshTokenUsage { kReUse = 0, kOneTimeOnly = 1 };
enum class TokenExpiration { kSliding = 0, kAbsolute = 1 };
enum class AccessTokenType { kJwt = 0, kReference = 1 };

struct Client {
  std::string client_id;                                 // ClientId (required, 1..100 chars)
  std::string client_name;                               // ClientName
  std::string description;                               // Description
  std::string client_uri;                                // ClientUri
  std::string logo_uri;                                  // LogoUri
  bool enabled = true;                                   // Enabled
  std::string protocol_type = "oidc";                    // ProtocolType
  std::vector<Secret> client_secrets;                    // ClientSecrets
  bool require_client_secret = true;                     // RequireClientSecret (false = public client)
  std::vector<std::string> allowed_grant_types;          // AllowedGrantTypes
  bool require_pkce = true;                              // RequirePkce
  bool allow_plain_text_pkce = false;                    // AllowPlainTextPkce
  bool require_request_object = false;                   // RequireRequestObject
  bool allow_access_tokens_via_browser = false;          // AllowAccessTokensViaBrowser
  std::vector<std::string> redirect_uris;                // RedirectUris
  std::vector<std::string> post_logout_redirect_uris;    // PostLogoutRedirectUris
  std::string front_channel_logout_uri;                  // FrontChannelLogoutUri
  bool front_channel_logout_session_required = true;     // FrontChannelLogoutSessionRequired
  std::string back_channel_logout_uri;                   // BackChannelLogoutUri
  bool back_channel_logout_session_required = true;      // BackChannelLogoutSessionRequired
  bool allow_offline_access = false;                     // AllowOfflineAccess
  std::vector<std::string> allowed_scopes;               // AllowedScopes
  bool always_include_user_claims_in_id_token = false;   // AlwaysIncludeUserClaimsInIdToken
  int64_t identity_token_lifetime = 300;                 // IdentityTokenLifetime
  std::vector<std::string> allowed_identity_token_signing_algorithms;  // AllowedIdentityTokenSigningAlgorithms
  int64_t access_token_lifetime = 3600;                  // AccessTokenLifetime
  int64_t authorization_code_lifetime = 300;             // AuthorizationCodeLifetime
  int64_t absolute_refresh_token_lifetime = 2592000;     // AbsoluteRefreshTokenLifetime (30 days)
  int64_t sliding_refresh_token_lifetime = 1296000;      // SlidingRefreshTokenLifetime (15 days)
  std::optional<int64_t> consent_lifetime;               // ConsentLifetime
  RefreshTokenUsage refresh_token_usage = RefreshTokenUsage::kOneTimeOnly;     // RefreshTokenUsage
  bool update_access_token_claims_on_refresh = false;    // UpdateAccessTokenClaimsOnRefresh
  TokenExpiration refresh_token_expiration = TokenExpiration::kAbsolute;       // RefreshTokenExpiration
  AccessTokenType access_token_type = AccessTokenType::kJwt;                   // AccessTokenType
  bool enable_local_login = true;                        // EnableLocalLogin
  std::vector<std::string> identity_provider_restrictions;  // IdentityProviderRestrictions
  bool include_jwt_id = true;                            // IncludeJwtId
  std::vector<ClaimValue> claims;                        // Claims
  bool always_send_client_claims = false;                // AlwaysSendClientClaims
  std::string client_claims_prefix = "client_";          // ClientClaimsPrefix
  std::string pair_wise_subject_salt;                    // PairWiseSubjectSalt
  std::optional<int64_t> user_sso_lifetime;              // UserSsoLifetime
  std::string user_code_type;                            // UserCodeType
  int64_t device_code_lifetime = 300;                    // DeviceCodeLifetime
  std::optional<int64_t> polling_interval;               // PollingInterval (device flow, seconds)
  std::vector<std::string> allowed_cors_origins;         // AllowedCorsOrigins
  bool require_consent = false;                          // RequireConsent
  bool allow_remember_consent = true;                    // AllowRememberConsent
  std::map<std::string, std::string> properties;         // Properties

  bool IsPublic() const { return !require_client_secret; }
  bool AllowsGrantType(std::string_view grant_type) const;
};

// How long (seconds) the record of a revoked grant family is kept: the longest AccessTokenLifetime of `clients` (0
// without clients) plus `clock_skew_seconds`. Introspection and UserInfo accept a JWT access token until its exp +
// clock skew, and until then a token carrying the family's grant_id must still find the family revoked. Every caller
// of Txn::RevokeFamily (the token endpoint's reuse detection, the revocation endpoint, tokenctl) keeps the record
// until now + this.
int64_t FamilyRevocationRetention(const std::vector<Client>& clients, int64_t clock_skew_seconds);

struct ApiScope {
  std::string name;                        // Name (required)
  std::string display_name;                // DisplayName
  std::string description;                 // Description
  bool enabled = true;                     // Enabled
  bool required = false;                   // Required
  bool emphasize = false;                  // Emphasize
  bool show_in_discovery_document = true;  // ShowInDiscoveryDocument
  std::vector<std::string> user_claims;    // UserClaims
  std::map<std::string, std::string> properties;  // Properties
};

struct ApiResource {
  std::string name;                        // Name (required): becomes the access token's `aud`
  std::string display_name;                // DisplayName
  std::string description;                 // Description
  bool enabled = true;                     // Enabled
  bool show_in_discovery_document = true;  // ShowInDiscoveryDocument
  bool require_resource_indicator = false; // RequireResourceIndicator
  std::vector<std::string> scopes;         // Scopes (names of ApiScopes)
  std::vector<Secret> api_secrets;         // ApiSecrets (introspection callers)
  std::vector<std::string> user_claims;    // UserClaims
  std::vector<std::string> allowed_access_token_signing_algorithms;  // AllowedAccessTokenSigningAlgorithms
  std::map<std::string, std::string> properties;  // Properties
};

struct IdentityResource {
  std::string name;                        // Name (required): openid, profile, email, ...
  std::string display_name;                // DisplayName
  std::string description;                 // Description
  bool enabled = true;                     // Enabled
  bool required = false;                   // Required
  bool emphasize = false;                  // Emphasize
  bool show_in_discovery_document = true;  // ShowInDiscoveryDocument
  std::vector<std::string> user_claims;    // UserClaims
  std::map<std::string, std::string> properties;  // Properties
};

enum class KeyState { kCurrent, kNext, kRetired };
std::string_view KeyStateName(KeyState state);   // "current", "next", "retired"

// A signing key. Stored as {"v":1,"Kid":...,"Alg":"ES256","State":"current","Created":<unix>,"PrivateKeyPem":...}.
// At most one current and one next key per algorithm; the admin tool keeps that invariant.
struct KeyRecord {
  std::string kid;       // RFC 7638 thumbprint
  std::string alg;       // JOSE name
  KeyState state = KeyState::kNext;
  int64_t created = 0;
  std::string private_pem;
};

// A resource owner: someone who signs in with a username and password (the `password` grant) and for whom tokens are
// issued with `sub` = SubjectId. The shape is IdentityServer's TestUser (SubjectId, Username, IsActive, Claims) plus
// Tenant, a password hash instead of the password, and ASP.NET Core Identity's lockout state.
//
// Stored in the `users` database under SubjectId, and indexed in `usernames` under
//     Tenant "\0" NormalizeUsername(Username)  ->  SubjectId
// so a username is unique per tenant, ignoring ASCII case ("Alice" and "alice" are the same user name; the record
// keeps the spelling it was given). The same username may exist once in each tenant. See store.h.
//
// Invariants (checked by UserFromJson and by Txn::PutUser):
//   - SubjectId: 1..200 bytes; Username: 1..100 bytes; Tenant: 0..100 bytes ("" = no tenant). None of the three may
//     contain a NUL byte (NUL separates tenant and username in the index key).
//   - PasswordHash is empty (the user cannot sign in with a password) or has the shape of a hash this build verifies:
//     an Argon2id PHC string ("$argon2id$v=19$m=...,t=...,p=...$salt$hash") or an ASP.NET Core Identity
//     PasswordHasher value (strict base64; first byte 0x00 = v2: 16-byte salt and 32-byte subkey, 49 bytes; 0x01 =
//     v3: PRF, iteration count and salt length as big-endian uint32, a salt and a subkey of at least 16 bytes each).
//     Only the shape is checked here; src/password verifies. An error about it never repeats the value (it might be
//     a plaintext password pasted into the wrong property).
//   - There is no Password property, on purpose: UserFromJson lists "Users[0].Password" as unknown (or fails without
//     an `unknown` list) like any other unknown name, so a stored record can never hold a plaintext password.
//     `tokenctl import` reads a TestUser's Password itself, hashes it, and sets password_hash before storing.
//   - AccessFailedCount and LockoutEnd are the lockout state (see store/lockout.h), shared by every worker because
//     they are read and written inside one Store::Update.
// Dates (LockoutEnd, Created) are read and written as ClientSecrets[].Expiration is (above).
struct User {
  std::string subject_id;                 // SubjectId (required, 1..200): the `sub` claim
  std::string username;                   // Username (required, 1..100): original spelling
  std::string tenant;                     // Tenant ("" = none, max 100): selected by acr_values "tenant:NAME"
  bool is_active = true;                  // IsActive: false = cannot sign in
  std::string password_hash;              // PasswordHash: PHC argon2id or ASP.NET Core Identity; "" = no password
  std::vector<ClaimValue> claims;         // Claims: [{Type, Value, ValueType}], e.g. name, email, role
  int64_t access_failed_count = 0;        // AccessFailedCount: consecutive failed password checks
  std::optional<int64_t> lockout_end;     // LockoutEnd: locked while now < lockout_end (Unix seconds)
  std::optional<int64_t> created;         // Created (Unix seconds)
  // SecurityStamp (ASP.NET Core Identity's name): an opaque random value that every login session of the user
  // carries (oauth/session.h); a session whose stamp differs is dead. tokenctl moves it (a new random value) when the
  // password changes, the user is disabled, the user's grants are revoked and on `session revoke`. "" = never moved.
  std::string security_stamp;
};

// Identifiers (ClientId, AllowedScopes entries, the Name of scopes and resources, ApiResource Scopes, SubjectId,
// Username, Tenant) are printable: valid UTF-8 (RFC 3629) without control characters (C0, DEL, C1) or NUL, so a
// name can neither end early in a C string or an LMDB key (a "svc\0x" that became "svc"), nor forge or split a log
// line. IdentifierProblem says what is wrong ("contains a NUL character", "contains a control character", "is not
// valid UTF-8"), or nullptr when nothing is; the FromJson functions and ValidateUser apply it, naming the property.
const char* IdentifierProblem(std::string_view value);

// cJSON ends a string at a "\u0000" escape, so a NUL inside a JSON string never reaches the checks above: the record
// would silently get a shorter name. FindNulEscape scans JSON text (already known to parse) for such an escape in
// any member name or string value and returns the JSON path of its place ("Clients[1].ClientId"), or nullopt.
std::optional<std::string> FindNulEscape(std::string_view json);

// The index form of a username: ASCII letters lower-cased, every other byte (including UTF-8 sequences) unchanged.
// ASP.NET Core Identity upper-cases with the invariant culture, which also folds non-ASCII letters; we fold ASCII
// only, so "ÉRIC" and "éric" are different user names here.
std::string NormalizeUsername(std::string_view username);

// The invariants above that do not depend on JSON (lengths, NUL bytes, PasswordHash shape). Messages start with the
// property name, prefixed by `path` when it is not empty.
Status ValidateUser(const User& user, std::string_view path = "");

// A grant: the server-side state behind an opaque handle (authorization code, refresh token, reference access token,
// device code). Stored in the `grants` database under SHA-256(handle) (32 raw bytes), never under the handle itself,
// so a copy of the database yields no usable token (see store.h for the layout and the family index).
//
// Invariants (checked by GrantFromJson and by Txn::PutGrant):
//   - client_id: 1..100 bytes; subject: 0..200 bytes; family: 0..200 bytes without NUL. A grant issued from a
//     user's grant (password with offline_access, refresh, codes) belongs to the family of the original grant
//     (RandomHandle(16)); "" means no family (a client_credentials reference token): such a grant is not in the
//     family index and no RevokeFamily reaches it.
//   - created >= 0, expires >= 0; the grant is dead at or after `expires` (Store::CollectExpired deletes it then).
//   - successor and predecessor: "" or exactly 32 raw bytes (the SHA-256 of the replacing or replaced handle);
//     handle_check: "" or kHandleCheckSize raw bytes (of the SHA-256 of the current handle); on
//     disk they are base64url without padding (43 characters), so the JSON stays text. generation: 0 .. 2^53.
//   - consumed_at: one-time grants (OneTimeOnly refresh tokens, codes) set it in the same write transaction that
//     issues the successor; the record is kept until `expires` (as a tombstone, ConsumedGrantTombstone below), so
//     presenting the handle again is detected as reuse.
// Times are Unix seconds.
//
// Stored in the binary form of store/grant_encoding.h; JSON (ToJson, tokenctl, older builds' records), snake_case:
//   {"v":1,"kind":"refresh_token","client_id":"c","subject":"alice","scopes":["api","offline_access"],
//    "created":1700000000,"expires":1702592000,"absolute_expires":null,"family":"...","consumed_at":null,
//    "successor":"","auth_time":1700000000,"idp":"local","amr":["pwd"],"tenant":"","acr":"","session_id":"",
//    "claims":[{"Type":"name","Value":"Alice","ValueType":""}],"access_token_json":"","redirect_uri":"","nonce":"",
//    "code_challenge":"","code_challenge_method":"","device_code_hash":"","decision":"","interval":0,"last_poll":null,
//    "failures":0,"locked_until":null,"generation":1,"predecessor":"",
//    "handle_check":""}
// Every property is written; on reading, a missing property takes the default below, null means absent, "kind",
// "client_id", "created" and "expires" are required, and an unknown property is an error (a record written
// by a newer build is Corruption, not silently truncated).
//
// The device flow (RFC 8628, oauth/device_authorization.h) keeps three more kinds:
//   device_code         key SHA-256(device_code); the request and, once the user decided, the decision and the login
//                       data; `interval` and `last_poll` are the polling state of the token endpoint (slow_down)
//   user_code           key UserCodeKey(user code) (oauth/user_code.h); points at its device code (device_code_hash)
//                       and lives as long; client_id is the device code's
//   user_code_throttle  key UserCodeThrottleKey(address or session) (oauth/device_page.h); failed user-code entries
//                       (`failures`) and the time the next entry is allowed (`locked_until`); client_id is "" (the
//                       only kind whose client_id may be empty)
// and consent (oauth/consent.h) one:
//   consent             key ConsentKey(subject, client_id); the scopes a user let a client have (AllowRememberConsent),
//                       until `expires` (ConsentLifetime) or until its family is revoked
enum class GrantKind {
  kAuthorizationCode, kRefreshToken, kReferenceToken, kDeviceCode, kUserCode, kUserCodeThrottle, kConsent
};
// "authorization_code", "refresh_token", "reference_token", "device_code", "user_code", "user_code_throttle",
// "consent" (the JSON "kind").
std::string_view GrantKindName(GrantKind kind);

struct Grant {
  GrantKind kind = GrantKind::kRefreshToken;
  std::string client_id;
  std::string subject;                 // "" for client-only grants (client_credentials reference tokens)
  std::vector<std::string> scopes;     // granted scopes, in order
  int64_t created = 0;                 // Unix seconds
  int64_t expires = 0;                 // Unix seconds; the grant is dead at or after this instant
  std::optional<int64_t> absolute_expires;  // sliding refresh tokens: the cap that sliding can never pass
  std::string family;                  // family id (RandomHandle(16)): the original grant every rotation descends from
  std::optional<int64_t> consumed_at;  // one-time grants: set when redeemed; the record is kept until `expires` for
                                       // reuse detection
  std::string successor;               // hash (raw 32 bytes, stored base64url) of the token that replaced this one
  // who and how the user authenticated (copied to every token issued from the grant)
  std::optional<int64_t> auth_time;
  std::string idp;
  std::vector<std::string> amr;
  std::string tenant;
  std::string acr;
  std::string session_id;
  std::vector<ClaimValue> claims;      // the user/client claims snapshot put in access tokens
  std::string access_token_json;       // reference tokens: the claims JSON of the token (what introspection returns)
  // authorization codes (and the device flow's grants)
  std::string redirect_uri, nonce, code_challenge, code_challenge_method;
  // device flow (see GrantKind above)
  std::string device_code_hash;        // user_code: SHA-256 of its device code (32 raw bytes; base64url on disk)
  std::string decision;                // device_code: "" (pending), "approved" or "denied"
  int64_t interval = 0;                // device_code: the current polling interval (seconds)
  std::optional<int64_t> last_poll;    // device_code: the last poll that was not answered slow_down
  int64_t failures = 0;                // user_code_throttle: failed entries in the record's lifetime
  std::optional<int64_t> locked_until; // user_code_throttle: no entry is checked before this instant
  // refresh tokens whose handle names its family and generation (oauth/refresh_tokens.h RefreshHandle): the number
  // of the handle in its chain of rotations, from 1 (0: a handle that names none, RandomHandle(32)); and the hash (raw
  // 32 bytes, stored base64url) of the handle this one replaced, kept for the reuse grace retry ("" for none, or once
  // that retry was spent)
  int64_t generation = 0;
  std::string predecessor;
  // refresh tokens stored under their chain's key (store.h "Chain keys", oauth/refresh_tokens.h): the first
  // kHandleCheckSize bytes of the SHA-256 of the chain's current handle (stored base64url in JSON), which the key no
  // longer names; "" for every other grant
  std::string handle_check;
};

// The record kept in `revocations` after a family was revoked: JWT access tokens issued from the family carry
// "grant_id": <family> and stay verifiable offline until they expire, so introspection looks the family up here and
// reports them inactive. Kept until keep_until (now + the longest access-token lifetime of any client), then collected.
// JSON: {"v":1,"revoked_at":1700000000,"keep_until":1700003600}.
struct FamilyRevocation {
  int64_t revoked_at = 0;
  int64_t keep_until = 0;
};

// Chain keys (store.h): the first kFamilyKeyPrefixSize bytes of SHA-256(family), which begin the store key of every
// grant stored under a chain key of its family and which the LMDB family index files its other grants under.
inline constexpr size_t kFamilyKeyPrefixSize = 16;
// Grant::handle_check: 128 bits of the handle's SHA-256, as much as a guess of a 160-bit secret can meet by chance.
inline constexpr size_t kHandleCheckSize = 16;
std::string FamilyKeyPrefix(std::string_view family);
// A chain key of `family` (32 bytes): FamilyKeyPrefix(family) followed by the first 16 bytes of SHA-256(data), where
// `data` names the record within the family (a refresh chain, an authorization code).
std::string FamilyChainKey(std::string_view family, std::string_view data);
// Whether `key` is a chain key of `family`: `family` is not "" and `key` starts with FamilyKeyPrefix(family).
bool IsChainKey(std::string_view key, std::string_view family);

// The Grant invariants above that do not depend on JSON. Messages start with the property name.
Status ValidateGrant(const Grant& grant);

Result<Grant> GrantFromJson(const cJSON* json, std::string_view path);
Result<FamilyRevocation> FamilyRevocationFromJson(const cJSON* json, std::string_view path);
std::string ToJson(const Grant& r);
std::string ToJson(const FamilyRevocation& r);

// A consumed one-time grant (consumed_at set) is kept only as a tombstone until its `expires`: what reuse detection,
// the refresh grace retry and a code replay need (kind, client_id, subject, created, expires, absolute_expires, family,
// consumed_at, successor, code_challenge, code_challenge_method, and any property not named below); scopes,
// auth_time, idp, amr, tenant, acr, session_id, claims, access_token_json, redirect_uri and nonce are cleared.
// Txn::PutGrant stores every grant with consumed_at set in this form, so a consumed grant takes a fraction of a live
// one (store.h: "Tombstones").
Grant ConsumedGrantTombstone(const Grant& consumed);
// The consumed grant a tombstone was made from, given its successor (a rotation copies every cleared property to the
// successor unchanged): the successor's properties with the tombstone's identity, times and links.
Grant RestoredFromSuccessor(const Grant& tombstone, const Grant& successor);
// ToJson(ConsumedGrantTombstone(consumed)) without the properties that are at their default (null, "", []).
std::string ToTombstoneJson(const Grant& consumed);

// JSON (de)serialisation. `path` prefixes error messages and `unknown` entries ("Clients[0]").
Result<Client> ClientFromJson(const cJSON* json, std::string_view path, std::vector<std::string>* unknown);
Result<ApiScope> ApiScopeFromJson(const cJSON* json, std::string_view path, std::vector<std::string>* unknown);
Result<ApiResource> ApiResourceFromJson(const cJSON* json, std::string_view path, std::vector<std::string>* unknown);
Result<IdentityResource> IdentityResourceFromJson(const cJSON* json, std::string_view path,
                                                  std::vector<std::string>* unknown);
Result<KeyRecord> KeyRecordFromJson(const cJSON* json, std::string_view path);
Result<User> UserFromJson(const cJSON* json, std::string_view path, std::vector<std::string>* unknown);

std::string ToJson(const Client& r);
std::string ToJson(const ApiScope& r);
std::string ToJson(const ApiResource& r);
std::string ToJson(const IdentityResource& r);
std::string ToJson(const KeyRecord& r);
std::string ToJson(const User& r);

// Shared-secret check as IdentityServer's HashedSharedSecretValidator: the stored value is base64 of a SHA-256 (32
// bytes) or SHA-512 (64 bytes) digest of the presented secret. Constant time in the digest comparison; expired
// secrets (expiration <= now) never match; Type "SharedSecret" is compared case-insensitively and other types are
// skipped; a Value that is not strict base64 of 32 or 64 bytes never matches; an empty presented secret never
// matches. Every secret is checked (no early exit). True if any secret in the list matches.
bool MatchesAnySecret(const std::vector<Secret>& secrets, std::string_view presented, int64_t now);

// base64(SHA-256(secret)): the stored form tokenctl writes for a new secret.
std::string HashSecret(std::string_view secret);

}  // namespace tf::store
