/* hmac_assertion: an example tokenfcgi extension-grant plug-in (include/tokenfcgi/extension_grant.h).
 *
 * A partner that shares a secret key with the operator signs a short-lived assertion, a compact JWS with HMAC-SHA256
 * (RFC 7515, "alg":"HS256"), and a client of the partner exchanges it at the token endpoint for an access token
 * issued to a subject the operator configured for that partner:
 *
 *     POST /connect/token
 *     grant_type=<the configured grant type>&assertion=<JWS>&scope=api1    (plus client authentication)
 *
 * The assertion's claims: iss (the partner, must equal `issuer`), aud (a string or an array containing `audience`),
 * iat and exp (NumericDates; iat no later than now + 60 s, exp in the future, exp - iat at most `max_age`), and jti
 * (1..128 characters, unique per assertion). Every assertion is accepted once: its (iss, jti) is recorded in
 * `replay_dir` (one file per assertion, created with O_EXCL so every worker process on the host sees it; removed
 * after the assertion has expired), and a second use is invalid_grant.
 *
 * The plug-in's own configuration file (the ARGUMENT of the extension_grant line), `key = value` lines, '#' comments
 * (whole lines, or after a blank at the end of a line):
 *     issuer     = partner-a                                  (required)
 *     audience   = https://id.example.com/connect/token       (required)
 *     key_hex    = <64 or more hex digits: the shared key>    (required; at least 32 bytes; keep the file 0600)
 *     subject    = 2001                                       (required: the sub of every token issued)
 *     replay_dir = /var/lib/tokenfcgi/hmac-assertion          (required: a directory the workers can write)
 *     max_age    = 300                                        (seconds, 1..3600; default 300)
 *     claim      = partner partner-a                          (optional, repeatable: TYPE VALUE, put in the token)
 *
 * Answers: invalid_request when `assertion` is missing or too long; invalid_grant when it is malformed, its
 * signature, iss, aud or times are wrong, or it was used before; otherwise the configured subject and claims with the
 * requested scopes. Nothing secret is ever put in an error description.
 *
 * Threads: the state is read-only after init; the replay check uses the file system, so handle() is thread-safe. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenfcgi/extension_grant.h"

#define MAX_ASSERTION 8192
#define MAX_CLAIMS 16
#define MAX_TEXT 512
#define CLOCK_SKEW 60

typedef struct {
  char issuer[MAX_TEXT];
  char audience[MAX_TEXT];
  unsigned char key[256];
  size_t key_size;
  char subject[TF_EXTENSION_GRANT_MAX_SUBJECT + 1];
  char replay_dir[MAX_TEXT];
  long max_age;
  tf_pair claims[MAX_CLAIMS];
  char claim_text[MAX_CLAIMS][2][MAX_TEXT];
  size_t claim_count;
  atomic_uint calls; /* every 64th call sweeps expired replay records */
} state_t;

static void set_error(char* error, size_t size, const char* message) { snprintf(error, size, "%s", message); }

static char* trim(char* s) {
  while (*s == ' ' || *s == '\t') ++s;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = '\0';
  return s;
}

static int copy_text(char* out, size_t size, const char* value) {
  size_t n = strlen(value);
  if (n == 0 || n >= size) return -1;
  memcpy(out, value, n + 1);
  return 0;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int parse_config(state_t* st, const char* path, char* error, size_t error_size) {
  FILE* f = fopen(path, "r");
  if (f == NULL) {
    snprintf(error, error_size, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  char line[2048];
  int line_no = 0;
  int rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
    ++line_no;
    char* text = trim(line);
    if (*text == '\0' || *text == '#') continue;
    char* eq = strchr(text, '=');
    if (eq == NULL) {
      snprintf(error, error_size, "%s:%d: expected key = value", path, line_no);
      rc = -1;
      break;
    }
    *eq = '\0';
    char* key = trim(text);
    char* value = eq + 1;
    for (char* c = value; *c != '\0'; ++c) { /* an end-of-line comment: '#' after a blank */
      if (*c == '#' && (c == value || c[-1] == ' ' || c[-1] == '\t')) {
        *c = '\0';
        break;
      }
    }
    value = trim(value);
    int bad = 0;
    if (strcmp(key, "issuer") == 0) {
      bad = copy_text(st->issuer, sizeof st->issuer, value);
    } else if (strcmp(key, "audience") == 0) {
      bad = copy_text(st->audience, sizeof st->audience, value);
    } else if (strcmp(key, "subject") == 0) {
      bad = copy_text(st->subject, sizeof st->subject, value);
    } else if (strcmp(key, "replay_dir") == 0) {
      bad = copy_text(st->replay_dir, sizeof st->replay_dir, value) || value[0] != '/';
    } else if (strcmp(key, "max_age") == 0) {
      char* end = NULL;
      st->max_age = strtol(value, &end, 10);
      bad = end == value || *end != '\0' || st->max_age < 1 || st->max_age > 3600;
    } else if (strcmp(key, "key_hex") == 0) {
      size_t n = strlen(value);
      bad = n % 2 != 0 || n < 64 || n / 2 > sizeof st->key;
      for (size_t i = 0; !bad && i < n; i += 2) {
        int hi = hex_value(value[i]), lo = hex_value(value[i + 1]);
        if (hi < 0 || lo < 0) bad = 1;
        else st->key[i / 2] = (unsigned char)(hi * 16 + lo);
      }
      if (!bad) st->key_size = n / 2;
    } else if (strcmp(key, "claim") == 0) {
      char* space = strpbrk(value, " \t");
      bad = space == NULL || st->claim_count == MAX_CLAIMS;
      if (!bad) {
        *space = '\0';
        char* type = value;
        char* claim_value = trim(space + 1);
        size_t i = st->claim_count;
        bad = copy_text(st->claim_text[i][0], MAX_TEXT, type) || copy_text(st->claim_text[i][1], MAX_TEXT, claim_value);
        if (!bad) {
          st->claims[i].name.data = st->claim_text[i][0];
          st->claims[i].name.size = strlen(st->claim_text[i][0]);
          st->claims[i].value.data = st->claim_text[i][1];
          st->claims[i].value.size = strlen(st->claim_text[i][1]);
          st->claim_count++;
        }
      }
    } else {
      snprintf(error, error_size, "%s:%d: unknown key '%.40s'", path, line_no, key);
      rc = -1;
      break;
    }
    if (bad) {
      /* never echo the value: it may be the key */
      snprintf(error, error_size, "%s:%d: %.40s: bad value", path, line_no, key);
      rc = -1;
    }
  }
  fclose(f);
  if (rc != 0) return rc;
  const char* missing = st->issuer[0] == '\0'       ? "issuer"
                        : st->audience[0] == '\0'   ? "audience"
                        : st->key_size == 0         ? "key_hex"
                        : st->subject[0] == '\0'    ? "subject"
                        : st->replay_dir[0] == '\0' ? "replay_dir"
                                                    : NULL;
  if (missing != NULL) {
    snprintf(error, error_size, "%s: %s is required", path, missing);
    return -1;
  }
  if (access(st->replay_dir, W_OK | X_OK) != 0) {
    snprintf(error, error_size, "%s: replay_dir %s is not a writable directory: %s", path, st->replay_dir,
             strerror(errno));
    return -1;
  }
  return 0;
}

static int init(const char* grant_type, const char* argument, void** state, char* error, size_t error_size) {
  (void)grant_type;
  if (argument == NULL || argument[0] == '\0') {
    set_error(error, error_size, "the extension_grant line names no configuration file for hmac_assertion");
    return -1;
  }
  state_t* st = calloc(1, sizeof *st);
  if (st == NULL) {
    set_error(error, error_size, "out of memory");
    return -1;
  }
  st->max_age = 300;
  if (parse_config(st, argument, error, error_size) != 0) {
    OPENSSL_cleanse(st->key, sizeof st->key);
    free(st);
    return -1;
  }
  *state = st;
  return 0;
}

static void destroy(void* state) {
  state_t* st = state;
  if (st == NULL) return;
  OPENSSL_cleanse(st->key, sizeof st->key);
  free(st);
}

static void fail(tf_extension_grant_result* result, const char* error, const char* description) {
  result->status = TF_EXTENSION_GRANT_ERROR;
  result->error.data = error;
  result->error.size = strlen(error);
  result->error_description.data = description;
  result->error_description.size = strlen(description);
}

/* base64url without padding -> bytes (malloc'd, NUL-terminated); NULL if malformed. */
static unsigned char* base64url_decode(const char* in, size_t n, size_t* out_size) {
  if (n % 4 == 1) return NULL;
  size_t padded = (n + 3) / 4 * 4;
  char* buf = malloc(padded + 1);
  unsigned char* out = malloc(padded / 4 * 3 + 1);
  if (buf == NULL || out == NULL) {
    free(buf);
    free(out);
    return NULL;
  }
  for (size_t i = 0; i < n; ++i) {
    char c = in[i];
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (!isalnum((unsigned char)c)) {
      free(buf);
      free(out);
      return NULL;
    }
    buf[i] = c;
  }
  for (size_t i = n; i < padded; ++i) buf[i] = '=';
  buf[padded] = '\0';
  int len = padded == 0 ? 0 : EVP_DecodeBlock(out, (const unsigned char*)buf, (int)padded);
  free(buf);
  if (len < 0) {
    free(out);
    return NULL;
  }
  len -= (int)(padded - n); /* EVP_DecodeBlock counts the padding as zero bytes */
  out[len] = '\0';
  *out_size = (size_t)len;
  return out;
}

static int number_member(const cJSON* object, const char* name, double* out) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(object, name);
  if (!cJSON_IsNumber(v)) return -1;
  *out = v->valuedouble;
  return 0;
}

static int audience_matches(const cJSON* claims, const char* audience) {
  const cJSON* aud = cJSON_GetObjectItemCaseSensitive(claims, "aud");
  if (cJSON_IsString(aud)) return strcmp(aud->valuestring, audience) == 0;
  const cJSON* item;
  if (cJSON_IsArray(aud)) {
    cJSON_ArrayForEach(item, aud) {
      if (cJSON_IsString(item) && strcmp(item->valuestring, audience) == 0) return 1;
    }
  }
  return 0;
}

/* Removes the replay records whose assertion has expired (mtime = exp). */
static void sweep(const state_t* st, long now) {
  DIR* dir = opendir(st->replay_dir);
  if (dir == NULL) return;
  struct dirent* e;
  while ((e = readdir(dir)) != NULL) {
    if (strlen(e->d_name) != 64) continue; /* only our own records: 64 hex digits */
    struct stat sb;
    if (fstatat(dirfd(dir), e->d_name, &sb, 0) == 0 && sb.st_mtime < now) unlinkat(dirfd(dir), e->d_name, 0);
  }
  closedir(dir);
}

/* 1 if (iss, jti) was recorded now, 0 if it was there already, -1 on an I/O error. */
static int record_once(const state_t* st, const char* jti, long exp) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  char input[2 * MAX_TEXT + 2];
  const size_t issuer_size = strlen(st->issuer) + 1; /* with its NUL: the separator */
  const size_t jti_size = strlen(jti);
  memcpy(input, st->issuer, issuer_size);
  memcpy(input + issuer_size, jti, jti_size);
  if (EVP_Digest(input, issuer_size + jti_size, digest, NULL, EVP_sha256(), NULL) != 1) return -1;
  char path[MAX_TEXT + 80];
  int n = snprintf(path, sizeof path, "%s/", st->replay_dir);
  for (size_t i = 0; i < sizeof digest; ++i) n += snprintf(path + n, sizeof path - (size_t)n, "%02x", digest[i]);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno == EEXIST ? 0 : -1;
  const struct timespec times[2] = {{exp, 0}, {exp, 0}};
  futimens(fd, times);
  close(fd);
  return 1;
}

static void handle(void* state, const tf_extension_grant_request* request, tf_extension_grant_result* result) {
  state_t* st = state;
  const tf_string* assertion = NULL;
  for (size_t i = 0; i < request->parameter_count; ++i) {
    const tf_pair* p = &request->parameters[i];
    if (p->name.size == 9 && memcmp(p->name.data, "assertion", 9) == 0) assertion = &p->value;
  }
  if (assertion == NULL || assertion->size == 0) {
    fail(result, "invalid_request", "assertion is missing");
    return;
  }
  if (assertion->size > MAX_ASSERTION) {
    fail(result, "invalid_request", "assertion is too long");
    return;
  }
  if ((atomic_fetch_add(&st->calls, 1) & 63) == 0) sweep(st, (long)request->now);

  const char* data = assertion->data;
  const char* dot1 = memchr(data, '.', assertion->size);
  const char* dot2 = dot1 == NULL ? NULL : memchr(dot1 + 1, '.', assertion->size - (size_t)(dot1 + 1 - data));
  if (dot2 == NULL || memchr(dot2 + 1, '.', assertion->size - (size_t)(dot2 + 1 - data)) != NULL) {
    fail(result, "invalid_grant", "the assertion is not valid");
    return;
  }
  size_t header_size = 0, payload_size = 0, signature_size = 0;
  unsigned char* header = base64url_decode(data, (size_t)(dot1 - data), &header_size);
  unsigned char* payload = base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload_size);
  unsigned char* signature =
      base64url_decode(dot2 + 1, assertion->size - (size_t)(dot2 + 1 - data), &signature_size);
  cJSON* header_json = header == NULL ? NULL : cJSON_ParseWithLength((const char*)header, header_size);
  cJSON* claims = payload == NULL ? NULL : cJSON_ParseWithLength((const char*)payload, payload_size);
  const char* error = "the assertion is not valid";
  int ok = 0;
  do {
    if (header_json == NULL || claims == NULL || signature == NULL || !cJSON_IsObject(claims)) break;
    const cJSON* alg = cJSON_GetObjectItemCaseSensitive(header_json, "alg");
    if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0) break;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_size = 0;
    if (HMAC(EVP_sha256(), st->key, (int)st->key_size, (const unsigned char*)data, (size_t)(dot2 - data), mac,
             &mac_size) == NULL) {
      break;
    }
    if (signature_size != mac_size || CRYPTO_memcmp(mac, signature, mac_size) != 0) break;
    const cJSON* iss = cJSON_GetObjectItemCaseSensitive(claims, "iss");
    if (!cJSON_IsString(iss) || strcmp(iss->valuestring, st->issuer) != 0) break;
    if (!audience_matches(claims, st->audience)) break;
    double iat = 0, exp = 0;
    if (number_member(claims, "iat", &iat) != 0 || number_member(claims, "exp", &exp) != 0) break;
    const double now = (double)request->now;
    if (exp <= now || iat > now + CLOCK_SKEW || exp - iat > (double)st->max_age || exp < iat) break;
    const cJSON* jti = cJSON_GetObjectItemCaseSensitive(claims, "jti");
    if (!cJSON_IsString(jti) || jti->valuestring[0] == '\0' || strlen(jti->valuestring) > 128) break;
    const int recorded = record_once(st, jti->valuestring, (long)exp + CLOCK_SKEW);
    if (recorded < 0) {
      error = "the assertion cannot be checked at the moment";
      break;
    }
    if (recorded == 0) {
      error = "the assertion was used already";
      break;
    }
    ok = 1;
  } while (0);
  cJSON_Delete(header_json);
  cJSON_Delete(claims);
  free(header);
  free(payload);
  free(signature);
  if (!ok) {
    fail(result, "invalid_grant", error);
    return;
  }
  result->status = TF_EXTENSION_GRANT_OK;
  result->subject.data = st->subject;
  result->subject.size = strlen(st->subject);
  result->claims = st->claims;
  result->claim_count = st->claim_count;
}

static void release(void* state, tf_extension_grant_result* result) {
  /* Everything the result points to is static or lives in the state. */
  (void)state;
  (void)result;
}

static const tf_extension_grant_plugin kPlugin = {
    TF_EXTENSION_GRANT_ABI_VERSION, "hmac_assertion", init, handle, release, destroy,
};

__attribute__((visibility("default"))) const tf_extension_grant_plugin* tf_extension_grant_entry(void) {
  return &kPlugin;
}
