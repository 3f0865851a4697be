"""tokenctl end to end: drives the built binary ($TF_BUILD_DIR/tokenctl) against a temporary LMDB database.

Self-contained (standard library and the openssl command only; no nginx, no worker). Every test gets a fresh
directory with its own configuration file. Prints "N passed, M failed" and exits non-zero on any failure;
exits 77 (skipped) when tokenctl has not been built.
"""

import base64
import hashlib
import json
import os
import pty
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback

SKIP = 77
SOURCE_DIR = os.environ.get("TF_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD_DIR = os.environ.get("TF_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
TOKENCTL = os.path.join(BUILD_DIR, "tokenctl")
DEMO_JSON = os.path.join(SOURCE_DIR, "conf", "demo.json")
FIXED_RSA_KEY = os.path.join(SOURCE_DIR, "tests", "keys", "rsa-2048-0.pem")  # a fixed test key (RSA-2048, PKCS#8)
UNRESERVED = re.compile(r"^[A-Za-z0-9\-._~]+$")


class Failure(Exception):
    pass


class Skipped(Exception):
    """A test that cannot run here (a binary it needs is not built); reported, not counted as passed."""


def check(condition, message):
    if not condition:
        raise Failure(message)


def hash_secret(secret):
    return base64.b64encode(hashlib.sha256(secret.encode()).digest()).decode()


class Env:
    """A temporary directory with a configuration file pointing at <dir>/db."""

    def __init__(self, extra_config=""):
        self.dir = tempfile.mkdtemp(prefix="tf_tokenctl_")
        self.db = os.path.join(self.dir, "db")
        self.config = os.path.join(self.dir, "tokenfcgi.conf")
        with open(self.config, "w") as f:
            # Small Argon2id parameters keep the user tests fast; no clock skew, so revocation records expire
            # exactly after the longest AccessTokenLifetime.
            f.write("# test configuration\nissuer = http://127.0.0.1:8080\n"
                    "database = %s\nmap_size = 32M\npassword_hash_memory_kib = 1024\n"
                    "password_hash_iterations = 1\nclock_skew_seconds = 0\n%s" % (self.db, extra_config))

    def run(self, *args, stdin=None, config=True, env=None):
        cmd = [TOKENCTL] + (["--config", self.config] if config else []) + list(args)
        full_env = dict(os.environ)
        full_env.pop("TOKENFCGI_CONFIG", None)
        full_env.update(env or {})
        p = subprocess.run(cmd, input=stdin if stdin is not None else "", capture_output=True, text=True,
                           timeout=120, env=full_env)
        return p

    def ok(self, *args, **kw):
        p = self.run(*args, **kw)
        check(p.returncode == 0, "tokenctl %s: exit %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def json(self, *args, **kw):
        p = self.ok("--json", *args, **kw)
        try:
            return json.loads(p.stdout)
        except ValueError:
            raise Failure("tokenctl --json %s printed no JSON document: %r" % (" ".join(args), p.stdout))

    def fails(self, code, *args, **kw):
        p = self.run(*args, **kw)
        check(p.returncode == code, "tokenctl %s: expected exit %d, got %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), code, p.returncode, p.stdout, p.stderr))
        check(p.stderr.startswith("tokenctl: "), "error does not start with 'tokenctl: ': %r" % p.stderr)
        return p

    def init(self):
        """What `tokenctl init` makes, with the RS256 key imported from FIXED_RSA_KEY instead of generated (slow):
        `init --no-key`, `key import`, `init`. For tests of other commands; the init tests run init itself."""
        self.ok("init", "--no-key")
        self.ok("key", "import", FIXED_RSA_KEY, "--alg", "RS256")
        return self.ok("init")

    def write(self, name, content):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content))
        return path

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- tests -----------------------------------------------------------------------------------------------------

def test_usage_errors_exit_2(env):
    p = env.ok("--help")
    check("usage: tokenctl" in p.stdout and "key rotate" in p.stdout, "general help lists the commands")
    p = env.ok("client", "add", "--help")
    check("--generate-secret" in p.stdout, "client add --help describes its options")
    env.fails(2, config=False)                                   # no command
    env.fails(2, "frobnicate")
    env.fails(2, "client")                                       # needs a subcommand
    env.fails(2, "client", "frob")
    env.fails(2, "client", "add")                                # missing ID
    env.fails(2, "client", "show", "a", "b")                     # extra argument
    env.fails(2, "client", "add", "x", "--colour", "red")       # unknown option
    env.fails(2, "client", "add", "x", "--lifetime", "soon")
    env.fails(2, "client", "add", "x", "--public", "--generate-secret")
    env.fails(2, "key", "generate", "--alg", "HS256")
    env.fails(2, "key", "generate", "--alg")                    # option without its value
    env.fails(2, "client", "secret", "add", "x", "--expires", "tomorrow")


def test_bad_config_names_the_key(env):
    bad = env.write("bad.conf", "issuer = http://127.0.0.1:8080\ndatabase = %s\nmap_size = lots\n" % env.db)
    p = env.fails(1, "--config", bad, "init", config=False)
    check("map_size" in p.stderr, "the error names the key: %r" % p.stderr)
    check(p.stderr.count("\n") == 1, "one line: %r" % p.stderr)
    check(not os.path.exists(env.db), "nothing created with a bad config")
    unknown = env.write("unknown.conf", "issuer = http://127.0.0.1:8080\ndatabse = /tmp/x\n")
    p = env.fails(1, "--config", unknown, "stats", config=False)
    check("databse" in p.stderr, "the error names the unknown key: %r" % p.stderr)
    p = env.fails(1, "--config", os.path.join(env.dir, "missing.conf"), "stats", config=False)
    check("missing.conf" in p.stderr, "the error names the missing file: %r" % p.stderr)


def test_config_from_environment(env):
    env.ok("init", config=False, env={"TOKENFCGI_CONFIG": env.config})
    check(os.path.exists(os.path.join(env.db, "data.mdb")), "$TOKENFCGI_CONFIG was used")


def test_commands_before_init_fail(env):
    p = env.fails(1, "client", "list")
    check("tokenctl init" in p.stderr, "points at init: %r" % p.stderr)
    check(not os.path.exists(os.path.join(env.db, "data.mdb")), "no database created by client list")


def test_init_is_idempotent(env):
    p = env.ok("init")
    check("created database" in p.stdout and "RS256" in p.stdout, "first init reports what it made: %r" % p.stdout)
    check(os.path.exists(os.path.join(env.db, "data.mdb")), "data.mdb exists")
    keys = env.json("key", "list")
    check(len(keys) == 1 and keys[0]["alg"] == "RS256" and keys[0]["state"] == "current", "one current RS256 key")
    check(all("PRIVATE" not in json.dumps(k) and "pem" not in json.dumps(k).lower() for k in keys),
          "key list never shows private keys")
    generation = env.json("stats")["config_generation"]
    p = env.ok("init")
    check("nothing to do" in p.stdout, "second init says it changed nothing: %r" % p.stdout)
    second = env.json("init")
    check(second["changed"] is False and second["created_key"] is None, "json init: unchanged")
    check(env.json("key", "list") == keys, "keys unchanged by a second init")
    check(env.json("stats")["config_generation"] == generation, "config generation unchanged by a second init")


def test_init_uses_the_configured_algorithm(env):
    es = Env("access_token_signing_alg = ES256\n")
    try:
        report = es.json("init")
        check(report["created_key"]["alg"] == "ES256", "init made an ES256 key: %r" % report)
    finally:
        es.close()


def test_import_demo(env):
    env.init()
    p = env.ok("import", DEMO_JSON)
    check("Clients:" in p.stdout and "1 new" in p.stdout, "import reports counts: %r" % p.stdout)
    check(p.stderr == "", "demo.json imports without warnings: %r" % p.stderr)
    demo = env.json("client", "show", "demo")
    check(demo["AllowedGrantTypes"] == ["client_credentials"], "demo grant types")
    check(demo["AllowedScopes"] == ["api1"], "demo scopes")
    check(demo["RequireClientSecret"] is True, "demo is confidential")
    check([s["Value"] for s in demo["ClientSecrets"]] == [hash_secret("demo-secret")],
          "demo secret stored as base64(SHA-256('demo-secret'))")
    stats = env.json("stats")
    check((stats["clients"], stats["api_scopes"], stats["api_resources"], stats["identity_resources"],
           stats["users"]) == (5, 2, 2, 3, 1), "stats counts after import: %r" % stats)
    web = env.json("client", "show", "demo-web")
    check(web["RequireClientSecret"] is False and web["AllowedGrantTypes"] == ["authorization_code"],
          "demo-web is a public authorization-code client")
    tv = env.json("client", "show", "demo-tv")
    check(tv["RequireClientSecret"] is False and
          tv["AllowedGrantTypes"] == ["urn:ietf:params:oauth:grant-type:device_code"] and
          (tv["DeviceCodeLifetime"], tv["PollingInterval"]) == (600, 5), "demo-tv is a public device-flow client")
    again = env.json("import", DEMO_JSON)
    check(again["Clients"] == {"new": 0, "updated": 0, "unchanged": 5}, "re-import: unchanged %r" % again)
    check(env.json("stats")["config_generation"] == stats["config_generation"], "unchanged re-import writes nothing")


def test_import_failures_write_nothing(env):
    env.init()
    env.ok("import", DEMO_JSON)
    before = env.json("client", "list")
    bad = env.write("bad.json", {"Clients": [{"ClientId": "fine"}, {"ClientId": "bad", "AccessTokenLifetime": "x"}]})
    p = env.fails(1, "import", bad)
    check("Clients[1].AccessTokenLifetime" in p.stderr, "error names the JSON path: %r" % p.stderr)
    check("nothing was written" in p.stderr, "says nothing was written")
    unknown = env.write("unknown.json", {"IdentityServer": {"Clients": [{"ClientId": "u", "Colour": "red"}]}})
    p = env.fails(1, "import", unknown)
    check("IdentityServer.Clients[0].Colour" in p.stderr, "unknown property path: %r" % p.stderr)
    check(env.json("client", "list") == before, "failed imports changed nothing")
    p = env.ok("import", unknown, "--ignore-unknown")
    check("warning" in p.stderr and "Colour" in p.stderr, "ignored unknown property is a warning: %r" % p.stderr)
    check("u" in [c["ClientId"] for c in env.json("client", "list")], "--ignore-unknown imported the rest")
    malformed = env.write("malformed.json", '{"Clients": [ {"ClientId": "m" ] }')
    p = env.fails(1, "import", malformed)
    check(re.search(r"byte \d+", p.stderr), "malformed JSON reports a byte offset: %r" % p.stderr)
    env.fails(1, "import", os.path.join(env.dir, "nope.json"))


def test_identifiers_must_be_printable(env):
    # "svc\u0000x" would be cut to "svc" by the JSON parser and silently replace client svc.
    env.ok("init")
    env.ok("import", env.write("svc.json", {"Clients": [{"ClientId": "svc", "ClientName": "the real one"}]}))
    nul = env.write("nul.json", '{"Clients": [{"ClientId": "ok"}, {"ClientId": "svc\\u0000x", "ClientName": "x"}]}')
    p = env.fails(1, "import", nul)
    check("Clients[1].ClientId: contains a NUL character" in p.stderr, "names the record: %r" % p.stderr)
    check(env.json("client", "show", "svc")["ClientName"] == "the real one", "client svc was not replaced")
    check("ok" not in [c["ClientId"] for c in env.json("client", "list")], "nothing of the file was written")
    for data, where in (({"Clients": [{"ClientId": "a\nb"}]}, "Clients[0].ClientId: contains a control character"),
                        ({"Clients": [{"ClientId": "c", "AllowedScopes": ["x\u001b[2J"]}]},
                         "Clients[0].AllowedScopes[0]: contains a control character"),
                        ({"ApiScopes": [{"Name": "s\u0085"}]}, "ApiScopes[0].Name: contains a control character"),
                        ({"Users": [{"SubjectId": "1", "Username": "bob\u0007"}]},
                         "Users[0].Username: contains a control character"),
                        ({"Users": [{"SubjectId": "\r1", "Username": "bob"}]},
                         "Users[0].SubjectId: contains a control character")):
        p = env.fails(1, "import", env.write("bad.json", data))
        check(where in p.stderr, "expected %r in %r" % (where, p.stderr))
    # The command line: control characters and invalid UTF-8 in ids and names.
    p = env.fails(1, "client", "add", "evil\x1b[31m", "--grant", "client_credentials")
    check("control character" in p.stderr, "client add: %r" % p.stderr)
    p = env.fails(1, "client", "add", "good", "--grant", "client_credentials", "--scope", "a\tb")
    check("AllowedScopes[0]: contains a control character" in p.stderr, "client add --scope: %r" % p.stderr)
    p = env.fails(1, "user", "add", "bob\x07", stdin="Bob-pass-123\n")
    check("Username: contains a control character" in p.stderr, "user add: %r" % p.stderr)
    bad_utf8 = subprocess.run([TOKENCTL, "--config", env.config, "user", "add", b"caf\xc3(", "--subject", "77"],
                              input=b"Bob-pass-123\n", capture_output=True, timeout=60)
    check(bad_utf8.returncode == 1 and b"Username: is not valid UTF-8" in bad_utf8.stderr,
          "user add with invalid UTF-8: %r" % bad_utf8.stderr)
    check(env.json("user", "list") == [], "no user was added")


def test_import_dry_run(env):
    env.init()
    generation = env.json("stats")["config_generation"]
    report = env.json("import", DEMO_JSON, "--dry-run")
    check(report["dry_run"] is True and report["written"] is False, "dry run writes nothing: %r" % report)
    check(report["Clients"]["new"] == 5, "dry run counts")
    check(env.json("client", "list") == [], "no client after a dry run")
    check(env.json("stats")["config_generation"] == generation, "generation unchanged")
    fresh = Env()
    try:  # no database at all: the file alone is validated
        p = fresh.ok("import", DEMO_JSON, "--dry-run")
        check("dry run" in p.stdout, "dry run without a database: %r" % p.stdout)
        check(not os.path.exists(fresh.db), "dry run without a database creates none")
    finally:
        fresh.close()


def test_import_warnings(env):
    env.init()
    f = env.write("dangling.json", {"Clients": [{"ClientId": "c", "AllowedScopes": ["ghost"],
                                                 "AllowedGrantTypes": ["client_credential"]}]})
    p = env.ok("import", f)
    check("Clients[0].AllowedScopes[0]" in p.stderr and "ghost" in p.stderr, "dangling scope warning: %r" % p.stderr)
    check("client_credential" in p.stderr, "unknown grant type warning")


def test_client_commands(env):
    env.init()
    env.ok("import", DEMO_JSON)
    p = env.ok("client", "add", "svc", "--name", "Service", "--grant", "client_credentials", "--scope", "api1",
               "--lifetime", "600")
    check("added confidential client svc" in p.stdout, p.stdout)
    check("no secret yet" in p.stderr, "warns about the missing secret: %r" % p.stderr)
    env.ok("client", "add", "spa", "--public", "--grant", "authorization_code", "--grant", "refresh_token",
           "--scope", "openid", "--scope", "offline_access")
    listed = {c["ClientId"]: c for c in env.json("client", "list")}
    check(sorted(listed) == ["demo", "demo-app", "demo-backend", "demo-tv", "demo-web", "spa", "svc"],
          "client list: %r" % sorted(listed))
    check(listed["spa"]["RequireClientSecret"] is False, "spa is public")
    human = env.ok("client", "list").stdout
    check("svc" in human and "confidential" in human and "public" in human, human)
    svc = env.json("client", "show", "svc")
    check(svc["ClientName"] == "Service" and svc["AccessTokenLifetime"] == 600, "show svc: %r" % svc)
    check(svc["AllowedGrantTypes"] == ["client_credentials"] and svc["AllowedScopes"] == ["api1"], "svc grants")
    check(env.json("client", "show", "spa")["AllowedGrantTypes"] == ["authorization_code", "refresh_token"], "spa")
    check("AccessTokenLifetime" in env.ok("client", "show", "svc").stdout, "human show")
    p = env.fails(1, "client", "add", "svc")
    check("exists" in p.stderr, p.stderr)
    env.fails(1, "client", "show", "nobody")
    env.ok("client", "remove", "svc")
    check("svc" not in [c["ClientId"] for c in env.json("client", "list")], "svc removed")
    env.fails(1, "client", "remove", "svc")
    env.fails(1, "client", "secret", "add", "spa", "--generate")  # public client


def assert_secret_not_stored(env, secret):
    for args in (("--json", "client", "show", "svc"), ("client", "show", "svc"), ("--json", "client", "list"),
                 ("--json", "stats")):
        p = env.ok(*args)
        check(secret not in p.stdout and secret not in p.stderr, "secret leaked by %s" % " ".join(args))
    with open(os.path.join(env.db, "data.mdb"), "rb") as f:
        data = f.read()
    check(secret.encode() not in data, "the raw secret is in data.mdb")


def test_generated_secrets(env):
    env.init()
    env.ok("import", DEMO_JSON)
    added = env.json("client", "add", "svc", "--grant", "client_credentials", "--scope", "api1", "--generate-secret")
    first = added["client_secret"]
    check(UNRESERVED.match(first) and len(first) >= 43, "generated secret is unreserved-only: %r" % first)

    p = env.ok("client", "secret", "add", "svc", "--generate", "--description", "ci", "--expires",
               "2030-01-01T00:00:00Z")
    lines = [l for l in p.stdout.splitlines() if UNRESERVED.match(l) and len(l) >= 43]
    check(len(lines) == 1, "the generated secret is printed once: %r" % p.stdout)
    second = lines[0]
    check(second != first, "each generated secret is new")

    shown = env.json("client", "show", "svc")
    values = [s["Value"] for s in shown["ClientSecrets"]]
    check(values == [hash_secret(first), hash_secret(second)], "stored as HashSecret: %r" % values)
    check(shown["ClientSecrets"][1]["Description"] == "ci", "description stored")
    check(shown["ClientSecrets"][1]["Expiration"] == 1893456000, "expiration stored: %r" % shown["ClientSecrets"][1])
    for secret in (first, second):
        assert_secret_not_stored(env, secret)


def test_secret_from_stdin(env):
    env.init()
    env.ok("client", "add", "svc", "--grant", "client_credentials")
    secret = "stdin-secret-0123456789-abcdef"
    p = env.ok("client", "secret", "add", "svc", stdin=secret + "\n")
    check(secret not in p.stdout and secret not in p.stderr, "a secret read from stdin is never echoed")
    shown = env.json("client", "show", "svc")
    check([s["Value"] for s in shown["ClientSecrets"]] == [hash_secret(secret)], "stdin secret hashed")
    assert_secret_not_stored(env, secret)
    env.fails(1, "client", "secret", "add", "svc", stdin=secret + "\n")  # the same secret twice
    env.fails(1, "client", "secret", "add", "svc", stdin="")              # nothing on stdin
    env.fails(1, "client", "secret", "add", "svc", stdin="x" * 101 + "\n")
    env.fails(1, "client", "secret", "add", "nobody", "--generate")
    p = env.ok("client", "secret", "add", "svc", stdin="short\n")
    check("warning" in p.stderr, "a short secret is warned about: %r" % p.stderr)


def test_key_lifecycle(env):
    env.init()
    first = env.json("key", "generate", "--alg", "ES256")
    check(first["state"] == "current" and first["alg"] == "ES256", "first ES256 key is current: %r" % first)
    second = env.json("key", "generate", "--alg", "ES256")
    check(second["state"] == "next", "second ES256 key is next: %r" % second)
    p = env.fails(1, "key", "generate", "--alg", "ES256")
    check("rotate or retire it first" in p.stderr, p.stderr)
    listed = {k["kid"]: k for k in env.json("key", "list")}
    check(len(listed) == 3 and listed[second["kid"]]["state"] == "next", "key list: %r" % listed)
    check("KID" in env.ok("key", "list").stdout, "human key list has a header")

    rotation = env.json("key", "rotate", "--alg", "ES256")
    check(rotation["current"]["kid"] == second["kid"], "next became current")
    check(rotation["retired"]["kid"] == first["kid"], "old current retired")
    env.fails(1, "key", "rotate", "--alg", "ES256")                   # no next key now
    states = {k["kid"]: k["state"] for k in env.json("key", "list")}
    check(states[first["kid"]] == "retired" and states[second["kid"]] == "current", "states: %r" % states)

    p = env.fails(1, "key", "remove", second["kid"])                  # current keys cannot be removed
    check("retired" in p.stderr, p.stderr)
    env.ok("key", "remove", first["kid"])
    check(first["kid"] not in [k["kid"] for k in env.json("key", "list")], "removed key gone")
    env.fails(1, "key", "remove", first["kid"])

    p = env.fails(1, "key", "retire", second["kid"])                  # current needs --force
    check("--force" in p.stderr, p.stderr)
    retired = env.json("key", "retire", second["kid"], "--force")
    check(retired["state"] == "retired", "forced retirement")
    again = env.json("key", "generate", "--alg", "ES256")
    check(again["state"] == "current", "with no current key the next generated one signs at once")


def test_kids_and_ids_that_could_begin_with_a_dash(env):
    """A generated kid never begins with '-', and a positional argument that does is an argument, not an option."""
    env.ok("init", "--no-key")
    for _ in range(40):
        key = env.json("key", "generate", "--alg", "ES256")
        check(not key["kid"].startswith("-"), "generated kid begins with '-': %r" % key["kid"])
        env.ok("key", "retire", key["kid"], "--force")
        env.ok("key", "remove", key["kid"])
    env.ok("client", "add", "-web", "--grant", "client_credentials")
    check(env.json("client", "show", "-web")["ClientId"] == "-web", "client show -web")
    p = env.fails(1, "key", "remove", "-NoSuchKid")
    check("no key with kid '-NoSuchKid'" in p.stderr, p.stderr)
    p = env.fails(2, "key", "remove", "--NoSuchKid")
    check("goes after --" in p.stderr, "the message says how to pass such an argument: %r" % p.stderr)
    env.fails(1, "key", "remove", "--", "--NoSuchKid")
    env.ok("client", "remove", "-web")


def table_columns(line):
    return [i for i, c in enumerate(line) if c != " " and (i == 0 or line[i - 1] == " ")]


def check_aligned(text, columns):
    """Every cell starts where its header does (after a blank), whatever the widths; the last may hold blanks."""
    lines = text.splitlines()
    header = table_columns(lines[0])
    check(len(header) == columns, "header of %d columns: %r" % (columns, lines[0]))
    for line in lines[1:]:
        check(all(len(line) > h and line[h] != " " and line[h - 1] == " " for h in header[1:]),
              "row not aligned with its header:\n%s" % text)


def test_client_add_options_and_aligned_tables(env):
    env.ok("init", "--no-key")
    p = env.fails(1, "client", "add", "svc", "--grant", "pasword")
    check("unknown grant type 'pasword' (known: authorization_code, client_credentials, refresh_token, password"
          in p.stderr, p.stderr)
    env.fails(1, "client", "show", "svc")
    ext = Env("extension_grant = urn:example:grant-type:partner /usr/lib/tokenfcgi/partner.so\n")
    try:
        ext.ok("init", "--no-key")
        p = ext.ok("client", "add", "partner", "--grant", "urn:example:grant-type:partner")
        check("unknown" not in p.stderr, p.stderr)
        p = ext.fails(1, "client", "add", "other", "--grant", "urn:example:grant-type:other")
        check("urn:example:grant-type:partner (extension_grant)" in p.stderr, p.stderr)
    finally:
        ext.close()

    env.ok("client", "add", "web", "--public", "--grant", "authorization_code", "--grant", "refresh_token",
           "--grant", "urn:ietf:params:oauth:grant-type:device_code", "--scope", "openid", "--scope",
           "offline_access", "--redirect-uri", "https://app.example/callback", "--post-logout-redirect-uri",
           "https://app.example/", "--cors-origin", "https://app.example", "--offline-access")
    web = env.json("client", "show", "web")
    check(web["RedirectUris"] == ["https://app.example/callback"], "RedirectUris: %r" % web)
    check(web["PostLogoutRedirectUris"] == ["https://app.example/"], "PostLogoutRedirectUris: %r" % web)
    check(web["AllowedCorsOrigins"] == ["https://app.example"], "AllowedCorsOrigins: %r" % web)
    check(web["AllowOfflineAccess"] is True and web["RequireClientSecret"] is False, "offline access: %r" % web)
    env.fails(1, "client", "add", "bad", "--public", "--grant", "authorization_code", "--redirect-uri",
              "https://app.example/cb#x")
    env.fails(1, "client", "add", "bad", "--public", "--grant", "authorization_code", "--cors-origin",
              "https://app.example/")

    env.ok("client", "add", "svc", "--grant", "client_credentials", "--scope", "api1")
    check_aligned(env.ok("client", "list").stdout, 5)
    env.ok("key", "generate", "--alg", "EdDSA")
    check_aligned(env.ok("key", "list").stdout, 4)
    env.ok("user", "add", "a-rather-long-username", "--tenant", "acme", "--no-password")
    env.ok("user", "add", "b", "--no-password")
    check_aligned(env.ok("user", "list").stdout, 6)
    for command in (["client", "list"], ["client", "show", "web"], ["key", "list"], ["user", "list"],
                    ["user", "show", "b"], ["grants", "list"], ["stats"]):
        env.json(*command)  # one JSON document each


def test_user_commands_take_a_username_or_a_subject_id(env):
    env.ok("init", "--no-key")
    env.ok("user", "add", "alice", "--subject", "s1", stdin="alice-password-1\n")
    check(env.json("user", "show", "alice")["SubjectId"] == "s1", "user show USERNAME")
    check(env.json("user", "show", "s1")["Username"] == "alice", "user show SUBJECT")
    env.ok("user", "passwd", "alice", stdin="alice-password-2\n")
    env.ok("user", "add", "dave", "--tenant", "acme", "--no-password")
    p = env.fails(1, "user", "show", "dave")
    check("tenant acme" in p.stderr and "--tenant" in p.stderr, "says where dave is: %r" % p.stderr)
    env.ok("user", "disable", "dave", "--tenant", "acme")
    env.ok("user", "add", "carol", "--subject", "alice", "--no-password")
    p = env.fails(1, "user", "remove", "alice")
    check("ambiguous" in p.stderr and "'alice' (subject s1)" in p.stderr and "'carol' (subject alice)" in p.stderr,
          "names both candidates: %r" % p.stderr)
    check(env.json("user", "show", "--subject", "alice")["Username"] == "carol", "--subject decides")
    env.ok("user", "remove", "--username", "alice")
    check(env.json("user", "show", "alice")["Username"] == "carol", "no longer ambiguous")


def openssl(*args, stdin=None):
    p = subprocess.run(["openssl"] + list(args), input=stdin, capture_output=True, timeout=60)
    check(p.returncode == 0, "openssl %s failed: %s" % (" ".join(args), p.stderr))
    return p.stdout


def test_key_import_pem(env):
    if shutil.which("openssl") is None:
        return
    env.init()
    pem = openssl("genpkey", "-algorithm", "ed25519")
    path = env.write("ed.pem", pem.decode())
    der = openssl("pkey", "-pubout", "-outform", "DER", stdin=pem)
    x = base64.urlsafe_b64encode(der[-32:]).rstrip(b"=").decode()
    thumbprint_input = '{"crv":"Ed25519","kty":"OKP","x":"%s"}' % x
    expected_kid = base64.urlsafe_b64encode(hashlib.sha256(thumbprint_input.encode()).digest()).rstrip(b"=").decode()
    imported = env.json("key", "import", path, "--alg", "EdDSA")
    check(imported["kid"] == expected_kid, "kid is the RFC 7638 thumbprint: %r vs %r" % (imported["kid"], expected_kid))
    check(imported["state"] == "current", "first EdDSA key is current")
    p = env.fails(1, "key", "import", path, "--alg", "EdDSA")
    check("already" in p.stderr, p.stderr)
    ec = env.write("ec.pem", openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256").decode())
    env.fails(1, "key", "import", ec, "--alg", "RS256")                # wrong key type for the algorithm
    public = env.write("public.pem", openssl("pkey", "-pubout", stdin=pem).decode())
    env.fails(1, "key", "import", public, "--alg", "EdDSA")            # a public key cannot sign
    p384 = env.write("p384.pem", openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384").decode())
    env.fails(1, "key", "import", p384, "--alg", "ES256")              # ES256 is P-256 only
    p = env.ok("key", "import", ec, "--alg", "ES256")
    check("BEGIN" not in p.stdout, "the PEM is never printed")


def test_stats_and_backup(env):
    env.init()
    env.ok("import", DEMO_JSON)
    stats = env.json("stats")
    for key in ("config_generation", "clients", "keys", "grants", "revoked_families", "map_size", "used_bytes",
                "free_bytes", "max_readers", "readers_in_use"):
        check(key in stats, "stats has %s: %r" % (key, stats))
    check(stats["keys"] == 1 and stats["map_size"] == 32 * 1024 * 1024, "stats values: %r" % stats)
    check(stats["grants"] == 0 and stats["revoked_families"] == 0, "no grants yet: %r" % stats)
    human = env.ok("stats").stdout
    check("config generation" in human and "map free list" in human, "human stats: %r" % human)
    check(0 <= stats["free_bytes"] < stats["used_bytes"], "free list within the map used: %r" % stats)

    backup = os.path.join(env.dir, "backup")
    env.ok("backup", backup)
    copy = os.path.join(backup, "data.mdb")
    check(os.path.getsize(copy) > 0, "backup written")
    check(not os.stat(copy).st_mode & stat.S_IROTH, "the backup (private keys inside) is not world-readable")
    env.fails(1, "backup", backup)                                    # never overwrites an existing copy
    # The copy is a working database.
    restored = Env()
    try:
        with open(restored.config, "w") as f:
            f.write("issuer = http://127.0.0.1:8080\ndatabase = %s\nmap_size = 32M\n" % backup)
        check([c["ClientId"] for c in restored.json("client", "list")] == ["demo", "demo-app", "demo-backend",
                                                                          "demo-tv", "demo-web"],
              "backup holds the demo clients")
        check(restored.json("stats")["free_bytes"] == 0, "the backup is compacted: no free pages")
    finally:
        restored.close()


# ---- users ------------------------------------------------------------------------------------------------------

def data_mdb(env):
    with open(os.path.join(env.db, "data.mdb"), "rb") as f:
        return f.read()


def assert_user_output_clean(env, password, stored_hash, *user):
    """show and list, human and JSON, never print the password or any part of its hash beyond the scheme."""
    tag = stored_hash.rsplit("$", 1)[-1] if stored_hash else None
    for args in (("user", "show") + user, ("--json", "user", "show") + user, ("user", "list"),
                 ("--json", "user", "list")):
        p = env.ok(*args)
        for text in (p.stdout, p.stderr):
            check(password not in text, "the password leaked by %s" % " ".join(args))
            check("$argon2id$" not in text, "a hash leaked by %s: %r" % (" ".join(args), text))
            check(tag is None or tag not in text, "the hash leaked by %s" % " ".join(args))


def have_mdb_tools():
    return shutil.which("mdb_dump") is not None and shutil.which("mdb_load") is not None


def stored_users(env):
    """The users database as {subject: record}, read with mdb_dump (the tool never prints hashes)."""
    p = subprocess.run(["mdb_dump", "-p", "-s", "users", env.db], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "mdb_dump failed: %s" % p.stderr)
    lines = p.stdout.split("HEADER=END\n", 1)[1].split("DATA=END", 1)[0].splitlines()
    return {lines[i].strip(): json.loads(lines[i + 1].strip()) for i in range(0, len(lines), 2)}


def lock_user(env, subject, failed, lockout_end):
    """Sets a user's lockout state directly in LMDB, as the password grant of a worker would."""
    p = subprocess.run(["mdb_dump", "-p", "-s", "users", env.db], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "mdb_dump failed: %s" % p.stderr)
    header, rest = p.stdout.split("HEADER=END\n", 1)
    lines = rest.split("DATA=END", 1)[0].splitlines()
    out = []
    for i in range(0, len(lines), 2):
        key, value = lines[i], lines[i + 1]
        if key.strip() == subject:
            record = json.loads(value.strip())
            record["AccessFailedCount"] = failed
            record["LockoutEnd"] = lockout_end
            value = " " + json.dumps(record, separators=(",", ":"))
        out += [key, value]
    dump = header + "HEADER=END\n" + "\n".join(out) + "\nDATA=END\n"
    p = subprocess.run(["mdb_load", "-s", "users", env.db], input=dump, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "mdb_load failed: %s" % p.stderr)


def test_user_add_show_list(env):
    env.init()
    password = "Correct-Horse-Battery-9"
    p = env.ok("user", "add", "alice", "--subject", "1001", "--claim", "email=alice@example.com",
               "--claim", "name=Alice Smith", stdin=password + "\n")
    check("alice" in p.stdout and "1001" in p.stdout, "user add says whom it added: %r" % p.stdout)
    check(password not in p.stdout + p.stderr, "user add echoes no password")
    shown = env.json("user", "show", "1001")
    check(shown["Username"] == "alice" and shown["Tenant"] == "" and shown["IsActive"] is True, "show: %r" % shown)
    check(shown["PasswordScheme"] == "argon2id", "the scheme is shown: %r" % shown)
    check(shown["Claims"] == [{"Type": "email", "Value": "alice@example.com"},
                              {"Type": "name", "Value": "Alice Smith"}], "claims: %r" % shown["Claims"])
    check(shown["AccessFailedCount"] == 0 and shown["LockedOut"] is False and shown["LockoutEnd"] is None,
          "lockout state shown: %r" % shown)
    check("PasswordHash" not in shown, "no hash property in show --json")
    stored_hash = None
    if have_mdb_tools():
        stored_hash = stored_users(env)["1001"]["PasswordHash"]
        check(stored_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$"),
              "hashed with the configured parameters: %r" % stored_hash[:32])
    assert_user_output_clean(env, password, stored_hash, "1001")
    check(password.encode() not in data_mdb(env), "the plaintext password is in data.mdb")

    random_subject = env.json("user", "add", "bob", "--tenant", "acme", stdin="Bob-Password-77\n")
    check(re.match(r"^[A-Za-z0-9_-]{22}$", random_subject["SubjectId"]), "random subject id: %r" % random_subject)
    listed = env.json("user", "list")
    check(sorted(u["Username"] for u in listed) == ["alice", "bob"], "list: %r" % listed)
    check([u["Username"] for u in env.json("user", "list", "--tenant", "acme")] == ["bob"], "list --tenant")
    check([u["Username"] for u in env.json("user", "list", "--tenant", "")] == ["alice"], "list --tenant ''")
    human = env.ok("user", "list").stdout
    check("SUBJECT_ID" in human and "argon2id" in human and "acme" in human, human)
    check(env.json("user", "show", "--username", "BOB", "--tenant", "acme")["SubjectId"] ==
          random_subject["SubjectId"], "--username/--tenant addressing ignores ASCII case")
    env.fails(1, "user", "show", "--username", "bob")                    # bob is in acme, not in no tenant
    env.fails(1, "user", "add", "ALICE", stdin="another-password\n")     # taken, ignoring case
    env.fails(1, "user", "add", "carol", stdin="\n")                     # empty password
    env.fails(1, "user", "add", "carol", stdin="")                       # no password at all
    env.fails(2, "user", "add", "carol", "--password", password)         # never from the command line
    env.fails(2, "user", "show")                                         # USER or --username
    env.fails(2, "user", "show", "--subject", "1001", "--tenant", "acme")  # a subject id has no tenant
    env.fails(2, "user", "show", "1001", "--username", "alice")          # one user, named once
    p = env.ok("user", "add", "carol", "--no-password", "--inactive")
    check("warning" in p.stderr, "a user without a password is warned about: %r" % p.stderr)
    check(env.json("stats")["users"] == 3, "stats counts users")


def test_user_passwd_disable_enable_unlock_remove(env):
    if not have_mdb_tools():  # lmdb-utils sets the lockout state a worker would
        return
    env.init()
    env.ok("user", "add", "dave", "--tenant", "t1", "--subject", "d1", stdin="Old-Password-1\n")
    old_hash = stored_users(env)["d1"]["PasswordHash"]
    lock_user(env, "d1", 3, 4102444800)  # locked until 2100-01-01
    shown = env.json("user", "show", "d1")
    check(shown["LockedOut"] is True and shown["AccessFailedCount"] == 3 and shown["LockoutEnd"] == 4102444800,
          "the lockout state is shown: %r" % shown)
    check("locked until 2100-01-01T00:00:00Z" in env.ok("user", "show", "d1").stdout, "human show: lockout")
    check("until 2100-01-01" in env.ok("user", "list").stdout, "human list: lockout")

    new = "New-Password-2"
    p = env.ok("user", "passwd", "--username", "DAVE", "--tenant", "t1", stdin=new + "\n")
    check(new not in p.stdout + p.stderr, "passwd echoes nothing")
    record = stored_users(env)["d1"]
    check(record["PasswordHash"] != old_hash and record["PasswordHash"].startswith("$argon2id$"), "new hash")
    check(record["AccessFailedCount"] == 0 and record["LockoutEnd"] is None, "passwd clears the lockout: %r" % record)
    assert_user_output_clean(env, new, record["PasswordHash"], "d1")
    check(new.encode() not in data_mdb(env), "the new plaintext password is in data.mdb")
    env.fails(1, "user", "passwd", "nobody", stdin="whatever-pw\n")
    env.fails(1, "user", "passwd", "d1", stdin="\n")
    check(stored_users(env)["d1"]["PasswordHash"] == record["PasswordHash"], "a failed passwd changes nothing")

    env.ok("user", "disable", "d1")
    check(env.json("user", "show", "d1")["IsActive"] is False, "disabled")
    env.ok("user", "enable", "--username", "dave", "--tenant", "t1")
    check(env.json("user", "show", "d1")["IsActive"] is True, "enabled")

    lock_user(env, "d1", 2, 4102444800)
    unlocked = env.json("user", "unlock", "d1")
    check(unlocked["LockedOut"] is False and unlocked["AccessFailedCount"] == 0 and unlocked["LockoutEnd"] is None,
          "unlock: %r" % unlocked)
    check(stored_users(env)["d1"]["PasswordHash"] == record["PasswordHash"], "unlock keeps the password")

    removed = env.json("user", "remove", "--username", "dave", "--tenant", "t1")
    check(removed["removed"] is True and removed["SubjectId"] == "d1", "remove: %r" % removed)
    env.fails(1, "user", "show", "d1")
    env.fails(1, "user", "remove", "d1")
    env.ok("user", "add", "dave", "--tenant", "t1", "--no-password")  # the name is free again


def read_until(fd, needle, timeout=30):
    """Reads a pty until `needle` appears; returns everything read."""
    data = b""
    while needle.encode() not in data:
        ready, _, _ = select.select([fd], [], [], timeout)
        check(ready, "timed out waiting for %r; got %r" % (needle, data))
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        data += chunk
    return data


def test_user_passwd_prompts_without_echo(env):
    env.init()
    env.ok("user", "add", "erin", "--subject", "e1", "--no-password")
    master, slave = pty.openpty()
    typed = "Typed-On-A-Tty-5"
    proc = subprocess.Popen([TOKENCTL, "--config", env.config, "user", "passwd", "e1"], stdin=slave, stderr=slave,
                            stdout=subprocess.PIPE)
    os.close(slave)
    try:
        seen = read_until(master, "new password for")
        os.write(master, (typed + "\n").encode())
        seen += read_until(master, "repeat the new password")
        os.write(master, (typed + "\n").encode())
        out, _ = proc.communicate(timeout=60)
        while True:  # whatever the terminal still holds
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                break
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    check(proc.returncode == 0, "passwd on a terminal: exit %d, %r" % (proc.returncode, seen))
    check(typed.encode() not in seen, "the password was echoed to the terminal: %r" % seen)
    check(b"new password" in out, "passwd reports success: %r" % out)
    check(env.json("user", "show", "e1")["PasswordScheme"] == "argon2id", "the password was set")


def test_interrupted_prompt_restores_echo(env):
    import termios
    env.init()
    env.ok("user", "add", "fay", "--subject", "f1", "--no-password")
    master, slave = pty.openpty()
    proc = subprocess.Popen([TOKENCTL, "--config", env.config, "user", "passwd", "f1"], stdin=slave, stderr=slave,
                            stdout=subprocess.PIPE)
    os.close(slave)
    try:
        read_until(master, "new password for")
        check(not termios.tcgetattr(master)[3] & termios.ECHO, "echo is off while the password is read")
        proc.send_signal(signal.SIGINT)  # Ctrl-C at the prompt
        proc.wait(timeout=60)
        check(proc.returncode == -signal.SIGINT, "tokenctl died of SIGINT: %r" % proc.returncode)
        check(termios.tcgetattr(master)[3] & termios.ECHO, "echo is back on after Ctrl-C at the prompt")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        os.close(master)
    check(env.json("user", "show", "f1")["PasswordScheme"] == "none", "an interrupted passwd changes nothing")


def test_import_users(env):
    if not have_mdb_tools():
        return
    env.init()
    identity_v3 = "AQAAAAEAACcQAAAAEAABAgMEBQYHCAkKCwwNDg85YlTdy7a7xOskYDDdNw+GN2LDK6Da6EHX9EHqyiEU6w=="
    users = {"Users": [
        {"SubjectId": "818727", "Username": "alice", "Password": "Alice-Import-1",
         "Claims": [{"Type": "name", "Value": "Alice Smith"}, {"Type": "email", "Value": "alice@example.com"}]},
        {"SubjectId": "88421113", "Username": "bob", "PasswordHash": identity_v3, "Tenant": "acme",
         "IsActive": False},
    ]}
    path = env.write("users.json", users)
    report = env.json("import", path)
    check(report["Users"] == {"new": 2, "updated": 0, "unchanged": 0}, "import counts: %r" % report)
    stored = stored_users(env)
    check(stored["818727"]["PasswordHash"].startswith("$argon2id$v=19$m=1024,t=1,p=1$"), "plaintext hashed")
    check(stored["88421113"]["PasswordHash"] == identity_v3, "an ASP.NET Core Identity hash is kept as is")
    check(b"Alice-Import-1" not in data_mdb(env), "the imported plaintext password is in data.mdb")
    bob = env.json("user", "show", "--username", "bob", "--tenant", "acme")
    check(bob["PasswordScheme"] == "aspnet-identity-v3" and bob["IsActive"] is False, "bob: %r" % bob)
    assert_user_output_clean(env, "Alice-Import-1", stored["818727"]["PasswordHash"], "818727")

    lock_user(env, "818727", 4, 4102444800)
    again = env.json("import", path)
    check(again["Users"] == {"new": 0, "updated": 0, "unchanged": 2}, "re-import is unchanged: %r" % again)
    after = stored_users(env)["818727"]
    check(after["PasswordHash"] == stored["818727"]["PasswordHash"], "the same password is not rehashed")
    check(after["AccessFailedCount"] == 4 and after["LockoutEnd"] == 4102444800, "re-import keeps the lockout")

    bad = env.write("bad.json", {"Users": [
        {"SubjectId": "1", "Username": "carol", "Password": "Carol-pw-1", "PasswordHash": identity_v3},
        {"SubjectId": "2", "Username": "ALICE", "Password": "Dup-pw-2"},
        {"SubjectId": "3", "Username": "dan", "Colour": "red"}]})
    p = env.fails(1, "import", bad)
    check("Users[0]: both Password and PasswordHash" in p.stderr, "both: %r" % p.stderr)
    check("Users[2].Colour" in p.stderr, "unknown property path: %r" % p.stderr)
    check("Carol-pw-1" not in p.stderr, "a password in an error message")
    dup = env.write("dup.json", {"Users": [{"SubjectId": "1", "Username": "x"}, {"SubjectId": "2", "Username": "X"}]})
    p = env.fails(1, "import", dup)
    check("Users[1].Username: duplicate Username" in p.stderr, "duplicate username: %r" % p.stderr)
    taken = env.write("taken.json", {"Users": [{"SubjectId": "2", "Username": "ALICE", "Password": "Dup-pw-2"}]})
    p = env.fails(1, "import", taken)
    check("Users[0].Username" in p.stderr and "818727" in p.stderr, "username of a store user: %r" % p.stderr)
    check(sorted(stored_users(env)) == ["818727", "88421113"], "failed imports wrote no user")
    check(b"Dup-pw-2" not in data_mdb(env) and b"Carol-pw-1" not in data_mdb(env), "no plaintext in data.mdb")


# ---- grants and gc ----------------------------------------------------------------------------------------------
# tokenctl cannot issue tokens, so the grants come from the real worker ($TF_BUILD_DIR/tokenfcgi) run as a CGI
# program: one request per process, the form on standard input.

TOKENFCGI = os.path.join(BUILD_DIR, "tokenfcgi")
GRANT_SECRET = "grants-s3cret"


def test_grants_and_gc_on_an_empty_database(env):
    env.fails(1, "grants", "list")                                    # no database yet
    env.init()
    check(env.ok("grants", "list").stdout == "no grants\n", "empty list")
    check(env.json("grants", "list") == [], "empty JSON list")
    check(env.ok("gc").stdout == "removed 0 grants and 0 revocation records\n", "gc on nothing")
    check(env.json("gc", "--batch", "1") == {"grants": 0, "revocations": 0, "batches": 1}, "gc --json")
    env.fails(1, "grants", "revoke", "--family", "no-such-family")
    env.fails(1, "grants", "revoke", "--id", "AAAAAAAAAAAA")
    check(env.json("grants", "revoke", "--client", "nobody") == {"grants": 0, "families": 0, "family_ids": []},
          "revoking nothing by client is not an error")
    for args in (["grants", "revoke"], ["grants", "revoke", "--family", "f", "--subject", "s"],
                 ["grants", "revoke", "--id", "abc", "--client", "c"], ["grants", "list", "--kind", "bogus"],
                 ["gc", "--batch", "0"], ["gc", "--batch", "ten"], ["gc", "extra"]):
        env.fails(2, *args)
    stats = env.json("stats")
    check(stats["grants"] == 0 and stats["revoked_families"] == 0, "stats: %r" % stats)
    for args in (["grants", "list", "--help"], ["grants", "revoke", "--help"], ["gc", "--help"]):
        check("usage: tokenctl" in env.ok(*args).stdout, "%s prints its help" % " ".join(args))


def cgi_token(env, fields):
    """POST /connect/token to the worker run as a CGI program; returns (status, JSON body)."""
    import urllib.parse
    body = urllib.parse.urlencode(fields).encode()
    cgi_env = dict(os.environ)
    cgi_env.pop("TOKENFCGI_CONFIG", None)
    cgi_env.update({
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "POST",
        "REQUEST_URI": "/connect/token", "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(("app:" + GRANT_SECRET).encode()).decode(),
    })
    p = subprocess.run([TOKENFCGI, "--config", env.config], input=body, capture_output=True, timeout=120,
                       env=cgi_env)
    check(p.returncode == 0, "tokenfcgi as CGI: exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace")))
    head, _, payload = p.stdout.partition(b"\r\n\r\n")
    status_line = [line for line in head.decode().split("\r\n") if line.lower().startswith("status:")]
    status = int(status_line[0].split()[1]) if status_line else 200
    return status, json.loads(payload)


def grant_id(token):
    """The id tokenctl shows for a refresh token: the first 12 characters of base64url of its chain key's last 16
    bytes, SHA-256(family id | chain) (the handle names both: src/oauth/refresh_tokens.h)."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    family = base64.urlsafe_b64encode(raw[1:17]).rstrip(b"=")
    chain_part = hashlib.sha256(family + raw[17:25]).digest()[:16]
    return base64.urlsafe_b64encode(chain_part).rstrip(b"=").decode()[:12]


def test_grants_from_the_worker(env):
    if not os.access(TOKENFCGI, os.X_OK):
        raise Skipped("%s not built" % TOKENFCGI)
    env.init()
    env.ok("import", env.write("grants.json", {
        "Clients": [{"ClientId": "app", "ClientSecrets": [{"Value": hash_secret(GRANT_SECRET)}],
                     "AllowedGrantTypes": ["password"], "AllowedScopes": ["api1"], "AllowOfflineAccess": True,
                     "AccessTokenLifetime": 1, "AbsoluteRefreshTokenLifetime": 3600}],
        "ApiScopes": [{"Name": "api1"}],
        "Users": [{"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1"}]}))
    login = {"grant_type": "password", "username": "alice", "password": "Alice-pass-1",
             "scope": "api1 offline_access"}
    tokens = []
    for _ in range(2):
        status, body = cgi_token(env, login)
        check(status == 200 and "refresh_token" in body, "password grant with offline_access: %d %r" % (status, body))
        tokens.append(body["refresh_token"])

    listed = env.json("grants", "list")
    check(sorted(g["id"] for g in listed) == sorted(grant_id(t) for t in tokens),
          "grants list shows the two refresh tokens by id: %r" % listed)
    for g in listed:
        check(g["kind"] == "refresh_token" and g["client_id"] == "app" and g["subject"] == "1001", "grant: %r" % g)
        check(g["scopes"] == ["api1", "offline_access"] and g["consumed_at"] is None and not g["expired"],
              "grant: %r" % g)
        check(g["expires"] - g["created"] == 3600 and g["family"], "absolute lifetime and a family: %r" % g)
    check(len({g["family"] for g in listed}) == 2, "two logins, two families")
    human = env.ok("grants", "list", "--client", "app", "--subject", "1001").stdout
    check(human.count("refresh_token") == 2 and human.endswith("2 grants\n"), "human list: %r" % human)
    for text in (human, json.dumps(listed)):
        for t in tokens:
            check(t not in text, "tokenctl never prints a refresh token")
    with open(os.path.join(env.db, "data.mdb"), "rb") as f:
        check(not any(t.encode() in f.read() for t in tokens), "the database holds no refresh token")

    # Rotation: the successor replaces the first token's record under the same key (its chain's; the old handle
    # names its family, chain and generation, which is what reuse detection needs), in the same family.
    family = {g["id"]: g for g in listed}[grant_id(tokens[0])]["family"]
    status, body = cgi_token(env, {"grant_type": "refresh_token", "refresh_token": tokens[0]})
    check(status == 200 and body.get("refresh_token"), "refresh: %d %r" % (status, body))
    rotated = body["refresh_token"]
    by_id = {g["id"]: g for g in env.json("grants", "list")}
    check(grant_id(rotated) == grant_id(tokens[0]) and len(by_id) == 2, "a rotated token leaves no record: %r" % by_id)
    successor = by_id[grant_id(rotated)]
    check(successor["family"] == family and successor["consumed_at"] is None, "the successor stays in the family")

    # Revoke the second login by its id: that family only.
    out = env.ok("grants", "revoke", "--id", grant_id(tokens[1])).stdout
    check(out == "revoked 1 grant in 1 family\n", "revoke --id: %r" % out)
    status, body = cgi_token(env, {"grant_type": "refresh_token", "refresh_token": tokens[1]})
    check(status == 400 and body.get("error") == "invalid_grant", "a revoked token is refused: %d %r" % (status, body))
    # Revoke alice everywhere: the rotated family (its one record, the successor).
    report = env.json("grants", "revoke", "--subject", "1001")
    check(report == {"grants": 1, "families": 1, "family_ids": [family], "sessions_revoked": True},
          "revoke --subject: %r" % report)
    status, body = cgi_token(env, {"grant_type": "refresh_token", "refresh_token": rotated})
    check(status == 400 and body.get("error") == "invalid_grant", "revoked successor: %d %r" % (status, body))
    stats = env.json("stats")
    check(stats["grants"] == 0 and stats["revoked_families"] == 2, "stats after revoking: %r" % stats)

    # The revocation records are kept for the longest AccessTokenLifetime (1 s here) plus clock_skew_seconds (0 here),
    # then gc removes them.
    env.ok("import", env.write("short.json", {
        "Clients": [{"ClientId": "app", "ClientSecrets": [{"Value": hash_secret(GRANT_SECRET)}],
                     "AllowedGrantTypes": ["password"], "AllowedScopes": ["api1"], "AllowOfflineAccess": True,
                     "AccessTokenLifetime": 1, "AbsoluteRefreshTokenLifetime": 1}],
        "ApiScopes": [{"Name": "api1"}]}))
    status, body = cgi_token(env, login)
    check(status == 200 and "refresh_token" in body, "short-lived refresh token: %d %r" % (status, body))
    time.sleep(2.2)
    out = env.ok("gc").stdout
    check(out == "removed 1 grant and 2 revocation records\n", "gc after expiry: %r" % out)
    check(env.json("grants", "list") == [] and env.json("stats")["revoked_families"] == 0, "nothing left")


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_") and callable(v)]


def main():
    if not os.access(TOKENCTL, os.X_OK):
        print("skipped: %s not built" % TOKENCTL)
        return SKIP
    passed = failed = 0
    for test in TESTS:
        env = Env()
        try:
            test(env)
            passed += 1
            print("ok      %s" % test.__name__)
        except Skipped as e:
            print("skipped %s: %s" % (test.__name__, e))
        except Exception as e:  # a failed check or an unexpected error: report it and go on
            failed += 1
            print("FAILED  %s: %s" % (test.__name__, e))
            if not isinstance(e, Failure):
                traceback.print_exc()
        finally:
            env.close()
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
