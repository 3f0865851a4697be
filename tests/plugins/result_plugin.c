/* A test plug-in whose answer is chosen by the request's `mode` parameter, so that the integration tests can show
 * what the worker does with each kind of result (tests/integration/test_extension_grants.py):
 *   ok              subject "plugin-user", claim partner=example, the request's scopes, lifetime 60
 *   narrow          as ok, but only the scope "api1"
 *   denied          invalid_grant "the test plug-in says no"
 *   bad_utf8        a subject that is not UTF-8
 *   protocol_claim  a claim named "sub"
 *   foreign_scope   a scope the request did not have
 *   unknown_error   the error code "access_denied" (not one a plug-in may answer)
 *   long_lifetime   a lifetime longer than any client's
 *   no_status       the result untouched
 *   crash           abort(): the worker process dies with the request in flight
 * The argument (from the configuration) must be "ready", else init fails. */
#include <stdlib.h>
#include <string.h>

#include "tokenfcgi/extension_grant.h"

static int init(const char* grant_type, const char* argument, void** state, char* error, size_t error_size) {
  (void)grant_type;
  if (strcmp(argument, "ready") != 0) {
    strncpy(error, "the argument must be 'ready'", error_size - 1);
    return 1;
  }
  *state = NULL;
  return 0;
}

static tf_string str(const char* s) {
  tf_string t = {s, strlen(s)};
  return t;
}

static const tf_pair kClaims[] = {{{"partner", 7}, {"example", 7}}};
static const tf_pair kProtocolClaim[] = {{{"sub", 3}, {"someone-else", 12}}};
static const tf_string kNarrow[] = {{"api1", 4}};
static const tf_string kForeign[] = {{"admin", 5}};

static void handle(void* state, const tf_extension_grant_request* request, tf_extension_grant_result* result) {
  (void)state;
  const char* mode = "";
  for (size_t i = 0; i < request->parameter_count; ++i) {
    if (request->parameters[i].name.size == 4 && memcmp(request->parameters[i].name.data, "mode", 4) == 0) {
      mode = request->parameters[i].value.data;
    }
  }
  /* Memory the worker must not keep: released in release(). */
  char* subject = strdup("plugin-user");
  result->plugin_data = subject;
  result->status = TF_EXTENSION_GRANT_OK;
  result->subject = str(subject);
  result->claims = kClaims;
  result->claim_count = 1;
  result->lifetime = 60;
  if (strcmp(mode, "narrow") == 0) {
    result->scopes = kNarrow;
    result->scope_count = 1;
  } else if (strcmp(mode, "denied") == 0) {
    result->status = TF_EXTENSION_GRANT_ERROR;
    result->error = str("invalid_grant");
    result->error_description = str("the test plug-in says no");
  } else if (strcmp(mode, "bad_utf8") == 0) {
    subject[0] = (char)0xC3;
    subject[1] = (char)0x28;
  } else if (strcmp(mode, "protocol_claim") == 0) {
    result->claims = kProtocolClaim;
  } else if (strcmp(mode, "foreign_scope") == 0) {
    result->scopes = kForeign;
    result->scope_count = 1;
  } else if (strcmp(mode, "unknown_error") == 0) {
    result->status = TF_EXTENSION_GRANT_ERROR;
    result->error = str("access_denied");
  } else if (strcmp(mode, "long_lifetime") == 0) {
    result->lifetime = 100000000;
  } else if (strcmp(mode, "no_status") == 0) {
    result->status = 0;
  } else if (strcmp(mode, "crash") == 0) {
    abort();
  }
}

static void release(void* state, tf_extension_grant_result* result) {
  (void)state;
  free(result->plugin_data);
  result->plugin_data = NULL;
}

static const tf_extension_grant_plugin kPlugin = {TF_EXTENSION_GRANT_ABI_VERSION, "result_plugin", init, handle,
                                                  release, NULL};

__attribute__((visibility("default"))) const tf_extension_grant_plugin* tf_extension_grant_entry(void) {
  return &kPlugin;
}
