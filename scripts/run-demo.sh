#!/usr/bin/env bash
# `make run`: a working token service on http://127.0.0.1:8080 (or PORT) in one command.
#   1. installs the missing Debian packages serving needs (scripts/deps.sh --run) and builds tokenfcgi, tokenctl and
#      the example plug-in hmac_assertion.so in build/, showing the build's progress;
#   2. writes run/tokenfcgi.conf (with the plug-in's extension_grant line and run/hmac-assertion.conf) and, only if
#      run/db does not exist yet, creates the database with a signing key and imports conf/demo.json (a client for
#      every grant the README shows: demo, demo-app, demo-web, demo-tv, demo-backend; the API resource demo-api with
#      a secret for introspection; user alice) and conf/demo-partner.json (the plug-in's client, apart so that
#      demo.json imports without warnings where no plug-in is configured); a second run keeps both;
#   3. starts one worker (under spawn-fcgi, FastCGI socket on fd 0) and nginx in the foreground, prints the demo's
#      credentials and a curl line for each grant;
#   4. Ctrl-C stops everything it started.
# PORT (default 8080) moves the loopback port; the demo database follows it (issuer and redirect URIs).
# RUN_DIR (default run/ in the checkout) is where the configuration, database and nginx files live.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
port=${PORT:-8080}
if ! [[ "$port" =~ ^[0-9]+$ ]] || (( port < 1 || port > 65535 )); then
  echo "run-demo: PORT must be a TCP port number (1-65535), got '$port'" >&2
  exit 2
fi
run=${RUN_DIR:-$repo/run}
[[ "$run" == /* ]] || run=$repo/$run
shown_run=${run#"$repo"/}   # how messages name it: relative to the checkout when inside it
build=${BUILD_DIR:-build}
[[ "$build" == /* ]] || build=$repo/$build

scripts/deps.sh --run
echo "run-demo: building tokenfcgi, tokenctl and hmac_assertion.so in ${build#"$repo"/}/" \
  "(a first build takes a few minutes)" >&2
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
# The build's own progress lines ([ 42%] Building ...) go to the terminal.
cmake --build "$build" -j "${JOBS:-2}" --target tokenfcgi tokenctl hmac_assertion
tokenfcgi=$build/tokenfcgi
tokenctl=$build/tokenctl
plugin=$build/plugins/hmac_assertion/hmac_assertion.so
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "run-demo: something already listens on 127.0.0.1:$port; stop it first" >&2
  exit 1
fi

mkdir -p "$run"
conf=$run/tokenfcgi.conf
# The demo's URLs (issuer, redirect URIs) name the port: conf/demo.json is written for 8080 and imported for $port.
sed "s#http://127.0.0.1:8080/#http://127.0.0.1:$port/#g" conf/demo.json >"$run/demo.json"
# The example plug-in serves the demo-partner client's grant. Its shared key is as public as conf/demo.json's
# secrets (the README signs an assertion with it); the audience follows the port.
hmac_grant=urn:example:params:oauth:grant-type:hmac-assertion
mkdir -p "$run/hmac-assertion"
cat >"$run/hmac-assertion.conf" <<HMAC
# Demo configuration of the hmac_assertion plug-in, written by scripts/run-demo.sh (docs/extension-grants.md).
issuer     = demo-partner
audience   = http://127.0.0.1:$port/connect/token
key_hex    = 64656d6f2d706172746e65722d6b65792d7075626c69632d6e6f742d736563726574
subject    = demo-alice
replay_dir = $run/hmac-assertion
max_age    = 300
HMAC
chmod 0600 "$run/hmac-assertion.conf"
if [[ ! -e "$conf" ]]; then
  cat >"$conf" <<CONF
# Demo configuration written by scripts/run-demo.sh. Every key is documented in conf/tokenfcgi.conf.
issuer = http://127.0.0.1:$port
database = $run/db
log_level = info
extension_grant = $hmac_grant $plugin $run/hmac-assertion.conf
CONF
else
  if ! grep -q "^extension_grant = $hmac_grant " "$conf"; then
    echo "extension_grant = $hmac_grant $plugin $run/hmac-assertion.conf" >>"$conf"
  fi
  if ! grep -qx "issuer = http://127.0.0.1:$port" "$conf"; then
    echo "run-demo: moving the demo to port $port (issuer and redirect URIs)" >&2
    sed -i "s#^issuer = .*#issuer = http://127.0.0.1:$port#" "$conf"
  fi
  # A database made by an older demo gets the clients it lacks; re-importing changes nothing else.
  if [[ -e "$run/db/data.mdb" ]]; then
    "$tokenctl" --config "$conf" import "$run/demo.json" >/dev/null
    "$tokenctl" --config "$conf" import conf/demo-partner.json >/dev/null
  fi
fi
if [[ ! -e "$run/db/data.mdb" ]]; then
  echo "run-demo: creating the demo database in $shown_run/db" >&2
  mkdir -p "$run/db"
  "$tokenctl" --config "$conf" init
  "$tokenctl" --config "$conf" import "$run/demo.json"
  "$tokenctl" --config "$conf" import conf/demo-partner.json
else
  echo "run-demo: keeping the existing database in $shown_run/db (delete $shown_run/ to start afresh)" >&2
fi

# nginx started as root runs its workers as nobody: the socket and nginx's temp files must be in a directory that
# user can reach. run/ usually is; if the checkout is somewhere private (e.g. /root), use a directory under /tmp.
user_directive=""
spawn_owner=()
rt=$run
if [[ $(id -u) -eq 0 ]]; then
  user_directive="user nobody nogroup;"
  spawn_owner=(-U nobody -G nogroup)
  if ! runuser -u nobody -- test -x "$run" 2>/dev/null; then
    rt=$(mktemp -d /tmp/tokenfcgi-demo.XXXXXX)
    chmod 0755 "$rt"
  fi
fi
sock=$rt/sock/tokenfcgi.sock
mkdir -p "$rt/sock" "$run/nginx/tmp"
chmod 0755 "$rt/sock"
rm -f "$sock"

worker_pid=""
nginx_pid=""
cleaned=0
cleanup() {
  [[ $cleaned -eq 1 ]] && return
  cleaned=1
  set +e
  echo >&2
  echo "run-demo: stopping" >&2
  [[ -n "$nginx_pid" ]] && kill -TERM "$nginx_pid" 2>/dev/null
  [[ -n "$worker_pid" ]] && kill -TERM "$worker_pid" 2>/dev/null
  [[ -n "$nginx_pid" ]] && wait "$nginx_pid" 2>/dev/null
  [[ -n "$worker_pid" ]] && wait "$worker_pid" 2>/dev/null
  rm -f "$sock"
  [[ "$rt" != "$run" ]] && rm -rf "$rt"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The worker gets the FastCGI socket on fd 0 from spawn-fcgi (-n: no fork, so $! is the worker itself). Its
# one-line-per-request log goes to this terminal.
spawn-fcgi -n -s "$sock" -M 0600 "${spawn_owner[@]}" -- "$tokenfcgi" --config "$conf" --threads 32 &
worker_pid=$!
for _ in $(seq 100); do
  [[ -S "$sock" ]] && break
  kill -0 "$worker_pid" 2>/dev/null || { echo "run-demo: the worker did not start" >&2; exit 1; }
  sleep 0.1
done

cat >"$run/nginx/nginx.conf" <<NGINX
# Demo nginx configuration written by scripts/run-demo.sh; see nginx/tokenfcgi.conf for production.
$user_directive
daemon off;
worker_processes 1;
pid $run/nginx/nginx.pid;
error_log $run/nginx/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $rt/sock/body;
    fastcgi_temp_path $rt/sock/fastcgi;
    proxy_temp_path $run/nginx/tmp/proxy;
    uwsgi_temp_path $run/nginx/tmp/uwsgi;
    scgi_temp_path $run/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        client_max_body_size 64k;
        # Where the demo-web client's browser flow lands: shows the code (text/plain, so nothing in it can run).
        location = /demo/callback {
            default_type text/plain;
            return 200 "authorization code: \$arg_code\nstate: \$arg_state\n";
        }
        location / {
            fastcgi_param REMOTE_USER "";
            include /etc/nginx/fastcgi_params;
            fastcgi_param REMOTE_USER "";
            fastcgi_pass unix:$sock;
        }
    }
}
NGINX
"$nginx_bin" -e "$run/nginx/error.log" -p "$run/nginx" -c "$run/nginx/nginx.conf" &
nginx_pid=$!

ready=0
for _ in $(seq 100); do
  if curl -sf -o /dev/null "http://127.0.0.1:$port/.well-known/openid-configuration"; then
    ready=1
    break
  fi
  kill -0 "$nginx_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ $ready -ne 1 ]]; then
  echo "run-demo: nginx did not come up; see $shown_run/nginx/error.log:" >&2
  tail -n 20 "$run/nginx/error.log" >&2 || true
  exit 1
fi

cat <<BANNER

tokenfcgi is running behind nginx on http://127.0.0.1:$port (worker log below; nginx log in $shown_run/nginx/error.log).

  The demo's credentials (conf/demo.json; public: never import it into a real deployment):
    client demo          secret demo-secret          client_credentials, scope api1
    client demo-app      secret demo-app-secret      password grant + refresh tokens (offline_access)
    client demo-web      public, PKCE                browser sign-in (authorization code)
    client demo-tv       public                      device flow
    client demo-backend  secret demo-backend-secret  token exchange, for API demo-api2
    client demo-partner  secret demo-partner-secret  hmac_assertion extension grant
                                                     (its key: $shown_run/hmac-assertion.conf)
    API    demo-api      secret demo-api-secret      introspection
    user   alice         password alice-demo-password
  The README's "First tokens against the demo" uses each of them.

  Get a token:
    curl -s -u demo:demo-secret -d grant_type=client_credentials http://127.0.0.1:$port/connect/token

  A user's tokens (password grant, with a refresh token):
    curl -s -u demo-app:demo-app-secret -d grant_type=password -d username=alice -d password=alice-demo-password -d 'scope=openid profile api1 offline_access' http://127.0.0.1:$port/connect/token

  Sign in as a user (authorization code + PKCE; user alice, password alice-demo-password): open
    http://127.0.0.1:$port/connect/authorize?client_id=demo-web&response_type=code&scope=openid%20profile%20api1%20offline_access&redirect_uri=http%3A%2F%2F127.0.0.1%3A$port%2Fdemo%2Fcallback&state=xyz&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256
  then exchange the code the callback page shows (within 5 minutes; the verifier is RFC 7636's example):
    curl -s -d grant_type=authorization_code -d client_id=demo-web -d code=CODE \\
      -d redirect_uri=http://127.0.0.1:$port/demo/callback -d code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk \\
      http://127.0.0.1:$port/connect/token

  Sign in a device (device flow; client demo-tv): ask for a code,
    curl -s -d client_id=demo-tv -d 'scope=openid profile api1 offline_access' http://127.0.0.1:$port/connect/deviceauthorization
  open http://127.0.0.1:$port/device, enter the user_code, sign in as alice and approve; then poll with the device_code:
    curl -s -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d client_id=demo-tv -d device_code=DEVICE_CODE \\
      http://127.0.0.1:$port/connect/token

  Discovery and keys:
    curl -s http://127.0.0.1:$port/.well-known/openid-configuration
    curl -s http://127.0.0.1:$port/.well-known/openid-configuration/jwks

  Administer the demo database:
    ${tokenctl#"$repo"/} --config $shown_run/tokenfcgi.conf client list

Press Ctrl-C to stop.

BANNER
wait "$nginx_pid"
