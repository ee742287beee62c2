# What the benchmark scripts share (sourced, not run; the caller is at the repository root):
# the release binary (under $CARGO_TARGET_DIR when set), the demo app's credentials, the fixed
# PKCE pair, the benchmark password, one way to write a bench configuration, to start and stop
# the provider, and to get codes and tokens for the demo app from a browser's cookie jar.
# The caller sets DIR (its work folder: the server's log goes to $DIR/log), CONF (the config
# file) and BASE (the provider's URL; write_config sets it).
# shellcheck shell=bash
# Variables set here are read by the scripts that source this file (SC2034); CONF, DIR and BASE
# are set by them (SC2153).
# shellcheck disable=SC2034,SC2153

BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/idp-server"
SECRET="demo-client-secret-change-me-0123456789"
BENCH_BASIC=$(printf 'demo:%s' "$SECRET" | base64 -w0)
export BENCH_BASIC
CB="http%3A%2F%2F127.0.0.1%3A8081%2Fcallback"
# PKCE (required of every app): one fixed pair for the benchmark's requests.
VERIFIER="bench-pkce-verifier-0123456789abcdefghijklmnopqrstuvwxyz"
PKCE="code_challenge_method=S256&code_challenge=nNXSXIAPh_gvnj1fakhR9r29EIkizMk0nlEpUHWvF7c"
PW="correct horse battery staple"
PG_BASE="${IDP_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
# A command to start the provider under (bench/pinned.sh: taskset -c 0); empty by default.
SERVER_WRAP=()
SERVER_PID=""
STARTUP_MS=0

log() { echo "== $*" >&2; }
die() {
  echo "error: $*" >&2
  if [ -n "${DIR:-}" ] && [ -f "$DIR/log" ]; then tail -5 "$DIR/log" >&2; fi
  exit 1
}

# Builds the provider (release) unless BENCH_NO_BUILD is set.
build_release() {
  [ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release --locked -p idp-server >&2
  [ -x "$BIN" ] || die "no release binary at $BIN"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The machine line every result file starts with.
machine_line() {
  echo "Machine: $(nproc --all) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m); date: $(date -u '+%Y-%m-%d %H:%M UTC')."
}

# write_config DB_URL PORT: the example configuration at $CONF for a provider at 127.0.0.1:PORT
# on DB_URL, its keys and outbox under $DIR, codes living 10 minutes (loads use codes made
# before them). Sets BASE. Callers append their own sections.
write_config() {
  local db_url=$1 port=$2
  BASE="http://127.0.0.1:$port"; export BASE
  sed -e "0,/^issuer = /s#^issuer = .*#issuer = \"$BASE\"#" -e "s#^listen = .*#listen = \"127.0.0.1:$port\"#" \
      -e "s#^database_url = .*#database_url = \"$db_url\"#" -e "s#\"data/keys\"#\"$DIR/keys\"#" \
      -e "s#\"data/outbox\"#\"$DIR/outbox\"#" -e 's#^code_ttl = .*#code_ttl = "10m"#' config/idp.toml > "$CONF"
}

# A fresh PostgreSQL database NAME on the server of $PG_BASE; prints its URL (on the server of
# $2 when given, e.g. the Unix-socket URL).
fresh_pg_db() {
  psql -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >&2
  local base=${2:-$PG_BASE}
  echo "${base%/*}/$1"
}
drop_pg_db() { psql -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >&2; }

# start_server [CONFIG]: starts the provider on CONFIG (default $CONF), logging to $DIR/log,
# and waits for /healthz; sets SERVER_PID and STARTUP_MS (start to first 200).
start_server() {
  local conf=${1:-$CONF} t0; t0=$(date +%s%N)
  "${SERVER_WRAP[@]}" "$BIN" --config "$conf" serve >> "$DIR/log" 2>&1 &
  SERVER_PID=$!
  until curl -sf "$BASE/healthz" >/dev/null 2>&1; do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DIR/log" >&2; SERVER_PID=""; die "the server did not start"; }
    sleep 0.005
  done
  STARTUP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# Signs in to the demo app as $2 with a new cookie jar $1; prints the redirect to the app.
sign_in_jar() {
  local csrf
  curl -s -c "$1" -b "$1" -o /dev/null "$BASE/authorize?client_id=demo&redirect_uri=$CB&response_type=code&scope=openid%20email&state=s&$PKCE"
  csrf=$(curl -s -c "$1" -b "$1" "$BASE/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
  curl -s -c "$1" -b "$1" -o /dev/null -w '%{redirect_url}' --data-urlencode "csrf=$csrf" --data-urlencode "email=$2" --data-urlencode "password=$PW" "$BASE/login/password"
}
# The code in a redirect to the app (stdin).
code_of() { sed -n 's/.*[?&]code=\([^&]*\).*/\1/p'; }
# A fresh code for the demo app from the signed-in browser whose cookie jar is $1.
new_code() {
  curl -s -b "$1" -o /dev/null -w '%{redirect_url}' "$BASE/authorize?client_id=demo&redirect_uri=$CB&response_type=code&scope=openid&state=s&$PKCE" | code_of
}
# The token response for code $1.
redeem() {
  curl -s -u "demo:$SECRET" -d grant_type=authorization_code -d "code_verifier=$VERIFIER" -d "code=$1" -d "redirect_uri=http://127.0.0.1:8081/callback" "$BASE/token"
}

# /userinfo every 10 ms on one kept-alive connection until $2 exists; "p50 p99 max n" in ms, then the
# probe's own CPU in ms.
probe() {
  python3 - "$BASE" "$1" "$2" <<'PY'
import http.client, os, sys, time, urllib.parse
base, token, stop = sys.argv[1], sys.argv[2], sys.argv[3]
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
lat = []
while not os.path.exists(stop):
    t0 = time.perf_counter()
    conn.request("GET", "/userinfo", headers={"Authorization": "Bearer " + token})
    r = conn.getresponse(); r.read()
    if r.status != 200:
        print(f"error: userinfo answered {r.status}", file=sys.stderr); sys.exit(1)
    lat.append((time.perf_counter() - t0) * 1000)
    time.sleep(max(0.0, 0.010 - (time.perf_counter() - t0)))
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
t = os.times()
print(f"{q(0.5):.2f} {q(0.99):.2f} {lat[-1]:.2f} {len(lat)} {(t.user + t.system) * 1000:.0f}")
PY
}

# An app's back-channel logout endpoint on a free port, answering 200 to every POST (HTTP/1.1
# keep-alive) as an app would; sets SINK_PORT and SINK_PID (the caller kills it).
start_logout_sink() {
  SINK_PORT=$(free_port)
  python3 - "$SINK_PORT" <<'PY' &
import asyncio, sys
async def serve(reader, writer):  # HTTP/1.1 keep-alive: 200 with no body to every request
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())
PY
  SINK_PID=$!
}
