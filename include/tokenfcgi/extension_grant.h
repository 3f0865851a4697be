/* tokenfcgi extension-grant plug-ins: the C ABI between the tokenfcgi worker and a shared library that serves one
 * grant type of the operator's own at the token endpoint (RFC 6749 §4.5).
 *
 * The operator names the library in the worker's configuration file, once per grant type it serves:
 *
 *     extension_grant = urn:example:grant-type:partner-assertion /usr/lib/x86_64-linux-gnu/tokenfcgi/lib.so ARGUMENT
 *
 * Each worker process dlopen()s the library once at start, calls tf_extension_grant_entry() and checks that
 * abi_version equals TF_EXTENSION_GRANT_ABI_VERSION, then calls init() with ARGUMENT (the rest of the line, often
 * the path of the plug-in's own configuration file). A load failure, a missing entry point, a different ABI version
 * or a failing init() stops the worker before it serves anything, with one log line naming the library.
 *
 * Per request, after the worker has authenticated the client and checked that its AllowedGrantTypes lists the grant
 * type and that `scope` names only scopes the client may have, it calls handle() with the request and a zeroed
 * result. The plug-in fills the result with either
 *   - status TF_EXTENSION_GRANT_OK: a subject (the token's sub), optional claims, optional scopes (a subset of the
 *     request's scopes; none = all of them) and an optional lifetime (1 .. the client's AccessTokenLifetime seconds;
 *     0 = the client's), or
 *   - status TF_EXTENSION_GRANT_ERROR: an OAuth error code (invalid_request, invalid_grant, unauthorized_client,
 *     invalid_scope or invalid_target; answered 400) and an optional description (printable ASCII without '"' and
 *     '\', RFC 6749 §5.2).
 * The worker then calls release() (always, once per handle() call) and validates what it copied. A result that
 * breaks a rule (not UTF-8, too long, an unknown error code, a scope outside the request, a claim named like a
 * protocol claim, ...) is answered 500 server_error and logged with the plug-in's name; no token is issued. On
 * success the worker issues, signs and records the access token (and a refresh token when offline_access is granted)
 * itself: the plug-in never sees the store or the signing keys.
 *
 * Memory: every pointer the worker passes is valid only during the call and must not be kept or freed. Every pointer
 * the plug-in puts in a result is owned by the plug-in and must stay valid until release() is called for that
 * result; the worker copies what it needs before calling release(). Strings are (pointer, length) pairs and need not
 * be NUL-terminated (the worker's strings are NUL-terminated as well, for convenience).
 *
 * Threads: a worker started with --threads N calls handle() from up to N threads at once with the same state;
 * init() and destroy() are called from one thread, before and after every handle(). A plug-in that crashes takes
 * down its worker process and the request in flight, never the database: nothing is written before handle()
 * returns.
 *
 * Versioning: TF_EXTENSION_GRANT_ABI_VERSION changes whenever a structure or a function type below changes. */
#ifndef TOKENFCGI_EXTENSION_GRANT_H_
#define TOKENFCGI_EXTENSION_GRANT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TF_EXTENSION_GRANT_ABI_VERSION 1u

/* The symbol every plug-in exports (declared below). */
#define TF_EXTENSION_GRANT_ENTRY "tf_extension_grant_entry"

/* Limits the worker enforces on a result (larger is a bad result). */
#define TF_EXTENSION_GRANT_MAX_SUBJECT 200u           /* bytes */
#define TF_EXTENSION_GRANT_MAX_CLAIMS 64u             /* claims */
#define TF_EXTENSION_GRANT_MAX_CLAIM_TYPE 100u        /* bytes */
#define TF_EXTENSION_GRANT_MAX_CLAIM_VALUE 4096u      /* bytes */
#define TF_EXTENSION_GRANT_MAX_SCOPES 64u             /* scopes */
#define TF_EXTENSION_GRANT_MAX_ERROR_DESCRIPTION 500u /* bytes */

typedef struct tf_string {
  const char* data; /* NULL only when size is 0 */
  size_t size;      /* bytes, without any terminating NUL */
} tf_string;

typedef struct tf_pair {
  tf_string name;
  tf_string value;
} tf_pair;

typedef struct tf_extension_grant_request {
  uint32_t abi_version;          /* TF_EXTENSION_GRANT_ABI_VERSION */
  tf_string grant_type;          /* the grant_type parameter */
  const tf_pair* parameters;     /* the decoded form (UTF-8, no NUL), in the order received, without client_secret */
  size_t parameter_count;
  tf_string client_id;           /* the authenticated client */
  const tf_pair* client_properties; /* the client's Properties, sorted by name */
  size_t client_property_count;
  const tf_string* scopes;       /* the requested scopes, already checked against what the client may have (with
                                    no scope parameter: every scope the client may have) */
  size_t scope_count;
  int64_t now;                   /* the worker's clock, Unix seconds */
} tf_extension_grant_request;

enum {
  TF_EXTENSION_GRANT_OK = 1,
  TF_EXTENSION_GRANT_ERROR = 2
};

typedef struct tf_extension_grant_result {
  int status;                    /* TF_EXTENSION_GRANT_OK or TF_EXTENSION_GRANT_ERROR; 0 (untouched) is a bad result */
  /* TF_EXTENSION_GRANT_OK */
  tf_string subject;             /* 1..TF_EXTENSION_GRANT_MAX_SUBJECT bytes of UTF-8 without NUL */
  const tf_pair* claims;         /* name = claim type (not a protocol claim such as sub, iss, scope, client_id),
                                    value = a string value; both UTF-8 without NUL */
  size_t claim_count;
  const tf_string* scopes;       /* each one of the request's scopes; scope_count 0 = all of the request's scopes */
  size_t scope_count;
  int64_t lifetime;              /* access token lifetime in seconds; 0 = the client's AccessTokenLifetime */
  /* TF_EXTENSION_GRANT_ERROR */
  tf_string error;               /* invalid_request, invalid_grant, unauthorized_client, invalid_scope or
                                    invalid_target */
  tf_string error_description;   /* optional */
  /* for the plug-in's own use (e.g. what release() must free); the worker never reads it */
  void* plugin_data;
} tf_extension_grant_result;

typedef struct tf_extension_grant_plugin {
  uint32_t abi_version;          /* must be TF_EXTENSION_GRANT_ABI_VERSION */
  const char* name;              /* a short name for log lines (printable ASCII), e.g. "hmac_assertion" */
  /* Called once per configured grant type at worker start. Returns 0 and sets *state on success; otherwise writes
     a NUL-terminated reason (no secrets) into error[0..error_size) and returns nonzero: the worker stops. */
  int (*init)(const char* grant_type, const char* argument, void** state, char* error, size_t error_size);
  /* Called per request; fills *result (see above). Must not block for long: the worker waits for it. A plug-in
     written in C++ must not let an exception escape. */
  void (*handle)(void* state, const tf_extension_grant_request* request, tf_extension_grant_result* result);
  /* Called once after every handle(), when the worker no longer needs the result's memory. */
  void (*release)(void* state, tf_extension_grant_result* result);
  /* Called once at worker shutdown (may be NULL). */
  void (*destroy)(void* state);
} tf_extension_grant_plugin;

/* Exported by the plug-in (extern "C" when built as C++). Returns a pointer to static storage. */
const tf_extension_grant_plugin* tf_extension_grant_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* TOKENFCGI_EXTENSION_GRANT_H_ */
