#!/usr/bin/env bash
# Reproducible load benchmark: builds in release, starts the provider on SQLite and then on
# PostgreSQL, prepares users and tokens, drives wrk on loopback for a bounded time per endpoint,
# and writes the table to bench/last-results.md (docs/performance.md quotes it). A load with
# failed answers, or a ceiling it cannot read, stops the run with an error.
# Usage: bench/run.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }
for tool in oathtool jq bc curl sqlite3 psql; do
  command -v "$tool" >/dev/null || { echo "$tool is required (apt-get install wrk oathtool jq bc curl sqlite3 postgresql-client)"; exit 1; }
done
# shellcheck source=bench/common.sh
. bench/common.sh
declare -A SIGNIN_RATE
build_release
cargo bench --locked -p idp-server --bench hot --no-run >&2

# The argon2 ceiling, measured with criterion right before each sign-in load (this VM's speed
# drifts between minutes): prints "<ms for one verification on one core> <ms for one verification
# per core at the same time>". Criterion prints "time: [low unit mid unit high unit]".
to_ms() { awk '$2=="ms" {print $1} $2=="µs" {print $1/1000} $2=="s" {print $1*1000}'; }
argon2_ms() {
  local all
  all=$(cargo bench --locked -p idp-server --bench hot -- argon2id --warm-up-time 1 2>/dev/null \
    | grep -o 'time: *\[[^]]*\]' | awk '{print $4, $5}')
  local one both
  one=$(echo "$all" | sed -n 1p | to_ms); both=$(echo "$all" | sed -n 2p | to_ms)
  if [ -z "$one" ] || [ -z "$both" ]; then
    echo "error: cannot read the argon2 ceiling from criterion's output: $all" >&2; exit 1
  fi
  echo "$one $both"
}
RESULTS=$(mktemp)
# PostgreSQL on the same host is reached over its Unix socket, as docs/configuration.md recommends
# (no TCP or TLS on the path); a short second run measures the same server over TCP with libpq's
# default sslmode=prefer (TLS), the path replicas on other hosts take.
PG_SOCKET_DIR="${BENCH_PG_SOCKET_DIR:-/var/run/postgresql}"
PG_SOCKET_BASE="postgres://postgres@${PG_SOCKET_DIR//\//%2F}/test"

row() { echo "| $1 | $2 | $3 | $4 | $5 | $6 |" >> "$RESULTS"; }

# wrk summary -> "req/s | p50 | p99 | errors"
wrk_row() {
  local backend=$1 what=$2; shift 2
  local out; out=$(wrk --latency "$@" 2>&1)
  local rps p50 p99 errs non2xx
  # A script that times its own load (bench/codes.lua) prints "RATE <requests/s>".
  rps=$(echo "$out" | awk '/^RATE / {print $2}')
  [ -n "$rps" ] || rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errs=$(echo "$out" | awk '/Socket errors/ {print $0}' | sed 's/.*Socket errors: //')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  if [ -n "$non2xx" ] || [ -n "$errs" ] || [ -z "$rps" ]; then
    echo "$out" >&2
    echo "error: the load \"$what\" on $backend had failed answers (non-2xx: ${non2xx:-0}; socket errors: ${errs:-none})" >&2
    exit 1
  fi
  row "$backend" "$what" "${rps:-0}" "${p50:--}" "${p99:--}" "${non2xx:-0} non-2xx ${errs:+; $errs}"
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# Password sign-in with curl; prints the authorization code. $1 jar, $2 email.
signin_code() {
  local jar=$1 email=$2 csrf loc
  curl -s -c "$jar" -b "$jar" -o /dev/null "$BASE/authorize?client_id=demo&redirect_uri=$CB&response_type=code&scope=openid%20email&state=s&$PKCE"
  csrf=$(curl -s -c "$jar" -b "$jar" "$BASE/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
  loc=$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' --data-urlencode "csrf=$csrf" --data-urlencode "email=$email" --data-urlencode "password=$PW" "$BASE/login/password")
  echo "$loc" | code_of
}

# Full sign-in with a TOTP code for an enrolled user. $1 email $2 base32 secret
full_totp_signin() {
  local jar csrf loc code otp; jar=$(mktemp)
  curl -s -c "$jar" -b "$jar" -o /dev/null "$BASE/authorize?client_id=demo&redirect_uri=$CB&response_type=code&scope=openid&state=s&$PKCE"
  csrf=$(curl -s -c "$jar" -b "$jar" "$BASE/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
  curl -s -c "$jar" -b "$jar" -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "email=$1" --data-urlencode "password=$PW" "$BASE/login/password"
  otp=$(oathtool --totp -b "$2" -N "@$(( $(date +%s) + 30 ))")
  loc=$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' --data-urlencode "csrf=$csrf" --data-urlencode "code=$otp" "$BASE/login/totp")
  code=$(echo "$loc" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
  curl -s -o /dev/null -w '%{http_code}\n' -u "demo:$SECRET" -d grant_type=authorization_code -d "code_verifier=$VERIFIER" -d "code=$code" -d "redirect_uri=http://127.0.0.1:8081/callback" "$BASE/token"
  rm -f "$jar"
}
export -f signin_code full_totp_signin code_of
export PW CB SECRET PKCE VERIFIER

# 16 grants of the same SSO session (cookie jar $1), one refresh chain each, into file $2.
make_refresh_tokens() {
  local code
  : > "$2"
  for _ in $(seq 1 16); do
    code=$(curl -s -b "$1" -o /dev/null -w '%{redirect_url}' "$BASE/authorize?client_id=demo&redirect_uri=$CB&response_type=code&scope=openid&state=s&$PKCE" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
    curl -s -u "demo:$SECRET" -d grant_type=authorization_code -d "code_verifier=$VERIFIER" -d "code=$code" -d "redirect_uri=http://127.0.0.1:8081/callback" "$BASE/token" | jq -r .refresh_token >> "$2"
  done
}

# $1: the label in the table; $2: sqlite, or the PostgreSQL URL whose server holds the bench's
# database; $3: full (every load) or quick (start, RSS, userinfo and refresh only); $4 (optional):
# a pool size for the [database] section (default: the provider's own).
run_backend() {
  local backend=$1 dir port db_url kind=sqlite mode=$3 name="idp_bench_$$"
  [ "$2" = sqlite ] || kind=postgres
  dir=$(mktemp -d); DIR=$dir; CONF="$dir/idp.toml"
  port=$(free_port)
  if [ "$kind" = sqlite ]; then
    db_url="sqlite://$dir/idp.db"
  else
    db_url=$(fresh_pg_db "$name" "$2")
  fi
  write_config "$db_url" "$port"
  if [ -n "${4:-}" ]; then printf '\n[database]\npool_size = %s\n' "$4" >> "$dir/idp.toml"; fi
  # Every sign-in of the loads comes from 127.0.0.1: at ~130 a second, two loads within a minute
  # would pass the per-address limit on starting sign-ins (1,200 a minute) and get 429s.
  printf '\n[server]\nsign_ins_per_minute = 100000\n' >> "$dir/idp.toml"
  log "$backend: first start (generates keys)"
  start_server; local first=$STARTUP_MS
  stop_server
  start_server; local second=$STARTUP_MS
  sleep 1
  local rss_idle; rss_idle=$(rss_kib "$SERVER_PID")
  row "$backend" "start to first 200 (first start / later starts)" "-" "${first} ms / ${second} ms" "-" "-"

  log "$backend: preparing users and tokens"
  "$BIN" --config "$dir/idp.toml" account create acme --name Acme >/dev/null
  "$BIN" --config "$dir/idp.toml" account create secure --name Secure >/dev/null
  "$BIN" --config "$dir/idp.toml" mfa enable --account secure >/dev/null
  printf '%s\n' "$PW" | "$BIN" --config "$dir/idp.toml" user create --account acme --email ann@acme.example --password-stdin >/dev/null
  local jar="$dir/jar" code tokens="$dir/tokens.txt" codes="$dir/codes.txt"
  code=$(signin_code "$jar" ann@acme.example)
  local access; access=$(curl -s -u "demo:$SECRET" -d grant_type=authorization_code -d "code_verifier=$VERIFIER" -d "code=$code" -d "redirect_uri=http://127.0.0.1:8081/callback" "$BASE/token" | jq -r .access_token)
  make_refresh_tokens "$jar" "$tokens"
  if [ "$mode" = quick ]; then
    log "$backend: load"
    wrk_row "$backend" "GET userinfo" -t2 -c32 -d"${DURATION}s" -H "Authorization: Bearer $access" "$BASE/userinfo"
    wrk_row "$backend" "refresh grant (rotation, 16 chains)" -t16 -c16 -d"${DURATION}s" -s bench/refresh.lua "$BASE" -- "$tokens"
    row "$backend" "RSS idle" "-" "$((rss_idle / 1024)) MiB" "-" "-"
    stop_server
    if [ "$kind" = postgres ]; then drop_pg_db "$name"; fi
    return
  fi
  : > "$codes"
  for _ in $(seq 1 4000); do
    curl -s -b "$jar" -o /dev/null -w '%{redirect_url}\n' "$BASE/authorize?client_id=demo&redirect_uri=$CB&response_type=code&scope=openid&state=s&$PKCE"
  done | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' > "$codes"

  log "$backend: load"
  wrk_row "$backend" "GET discovery" -t2 -c64 -d"${DURATION}s" "$BASE/.well-known/openid-configuration"
  wrk_row "$backend" "GET jwks" -t2 -c64 -d"${DURATION}s" "$BASE/jwks"
  wrk_row "$backend" "GET userinfo" -t2 -c32 -d"${DURATION}s" -H "Authorization: Bearer $access" "$BASE/userinfo"
  wrk_row "$backend" "refresh grant (rotation, 16 chains)" -t16 -c16 -d"${DURATION}s" -s bench/refresh.lua "$BASE" -- "$tokens"
  wrk_row "$backend" "code grant (4000 fresh codes; each wrk thread stops when its share is spent)" -t8 -c8 -d"${DURATION}s" -s bench/codes.lua "$BASE" -- "$codes" 8

  log "$backend: password sign-ins"
  for i in $(seq 1 8); do
    printf '%s\n' "$PW" | "$BIN" --config "$dir/idp.toml" user create --account acme --email "u$i@acme.example" --password-stdin >/dev/null
  done
  local out rate total fails one all ceiling ideal
  local ms; ms=$(argon2_ms); read -r one all <<< "$ms"
  ideal=$(echo "scale=1; $(nproc) * 1000 / ${one:-1}" | bc)
  ceiling=$(echo "scale=1; $(nproc) * 1000 / ${all:-1}" | bc)
  row "$backend" "argon2id ceiling, measured just before: one verification per core at once (hashes/s; p50 = time per round)" "$ceiling" "${all} ms" "-" "criterion; one core alone ${one} ms, which would give ${ideal}/s if cores scaled perfectly"
  out=$(wrk -t8 -c8 -d"${DURATION}s" -s bench/signin.lua "$BASE" -- 8 2>/dev/null)
  read -r _ total rate fails <<< "$(echo "$out" | grep '^SIGNINS')"
  [ "${fails:-1}" = 0 ] || { echo "error: password sign-ins failed: $out" >&2; exit 1; }
  row "$backend" "full password sign-in (authorize, page, form, token; wrk, 8 connections)" "$rate" "-" "-" "$total sign-ins, $fails failed; $(echo "scale=0; 100 * $rate / $ceiling" | bc)% of the argon2 ceiling"
  SIGNIN_RATE[$backend]=$rate

  log "$backend: userinfo latency during a sign-in storm"
  wrk -t8 -c8 -d"${DURATION}s" -s bench/signin.lua "$BASE" -- 8 >/dev/null 2>&1 &
  local storm=$!
  sleep 1
  wrk_row "$backend" "GET userinfo during the sign-in storm (4 connections)" -t1 -c4 -d"$(( DURATION > 3 ? DURATION - 2 : 1 ))s" -H "Authorization: Bearer $access" "$BASE/userinfo"
  wait "$storm" || true

  log "$backend: TOTP sign-ins"
  local m=60
  : > "$dir/totp.txt"
  for i in $(seq 1 $m); do
    printf '%s\n' "$PW" | "$BIN" --config "$dir/idp.toml" user create --account secure --email "t$i@secure.example" --password-stdin >/dev/null
    # Enroll through the pages, reading the activation code as a user would.
    local j="$dir/tjar$i" csrf page secret otp
    curl -s -c "$j" -b "$j" -o /dev/null "$BASE/authorize?client_id=demo&redirect_uri=$CB&response_type=code&scope=openid&state=s&$PKCE"
    csrf=$(curl -s -c "$j" -b "$j" "$BASE/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
    curl -s -c "$j" -b "$j" -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "email=t$i@secure.example" --data-urlencode "password=$PW" "$BASE/login/password"
    page=$(curl -s -c "$j" -b "$j" "$BASE/login")
    secret=$(echo "$page" | grep -o 'id="activation-code">[^<]*' | sed 's/.*>//; s/ //g')
    otp=$(oathtool --totp -b "$secret")
    curl -s -c "$j" -b "$j" -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "code=$otp" "$BASE/login/totp"
    echo "t$i@secure.example $secret" >> "$dir/totp.txt"
  done
  t0=$(date +%s%N)
  # shellcheck disable=SC2016 # expanded by the inner bash
  xargs -P 8 -L 1 bash -c 'full_totp_signin "$0" "$1"' < "$dir/totp.txt" | sort | uniq -c > "$dir/totpres.txt"
  t1=$(date +%s%N)
  row "$backend" "full sign-in with TOTP (5 requests, curl, 8 parallel)" "$(echo "scale=1; $m * 1000000000 / ($t1 - $t0)" | bc)" "-" "-" "$(tr '\n' ' ' < "$dir/totpres.txt")"

  local rss_after_all; rss_after_all=$(rss_kib "$SERVER_PID")
  # The hashing threads keep their argon2 working memory for 2 s after their last hash.
  sleep 3
  local rss_settled; rss_settled=$(rss_kib "$SERVER_PID")

  # The refresh load again on a restarted server with another configuration. $1 config, $2 label.
  refresh_row_with() {
    stop_server
    start_server "$1"
    make_refresh_tokens "$jar" "$tokens"
    wrk_row "$backend" "$2" -t16 -c16 -d"${DURATION}s" -s bench/refresh.lua "$BASE" -- "$tokens"
  }
  log "$backend: refresh grant with ES256 access tokens"
  sed 's#^code_ttl = .*#&\naccess_token_alg = "ES256"#' "$dir/idp.toml" > "$dir/idp-es256.toml"
  refresh_row_with "$dir/idp-es256.toml" "refresh grant, access_token_alg = ES256 (ID token stays RS256)"
  log "$backend: refresh grant for a client registered for ES256 ID tokens, ES256 access tokens"
  sed 's#^secret_sha256 = "d080.*#&\nid_token_signed_response_alg = "ES256"#' "$dir/idp-es256.toml" > "$dir/idp-es256-client.toml"
  refresh_row_with "$dir/idp-es256-client.toml" "refresh grant, ES256 ID and access tokens (client id_token_signed_response_alg = ES256)"

  log "$backend: 10,000 live sessions, each refreshed once"
  # Sessions of ann with a grant and a refresh token each ("bench-rt-N", stored as its SHA-256
  # like every token), inserted by SQL; then every token is used once, so every session is read
  # and slid by a request, as 10,000 users' apps would.
  local uid now
  uid=$("$BIN" --config "$dir/idp.toml" --json user show --email ann@acme.example | jq -r .user.id)
  now=$(date +%s)
  local sessions="INSERT INTO sso_sessions (id, secret_hash, user_id, auth_time, amr, created_at, last_active_at, idle_timeout_secs, expires_at, idle_expires_at) SELECT 'bench' || i, 'hash' || i, '$uid', $now, 'pwd', $now, $now, 1800, $now + 43200, $now + 1800 FROM n"
  local grants="INSERT INTO grants (id, session_id, user_id, client_id, scope, created_at) SELECT 'bench-g-' || i, 'bench' || i, '$uid', 'demo', 'openid', $now FROM n"
  if [ "$kind" = sqlite ]; then
    python3 - "$dir/idp.db" "$sessions" "$grants" "$now" <<'PY'
import hashlib, sqlite3, sys
db, sessions, grants, now = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = sqlite3.connect(db)
n = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) "
c.execute(n + sessions)
c.execute(n + grants)
c.executemany("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
              [(hashlib.sha256(f"bench-rt-{i}".encode()).hexdigest(), f"bench-g-{i}", now, now + 43200) for i in range(1, 10001)])
c.commit()
PY
  else
    local n="WITH n(i) AS (SELECT generate_series(1, 10000)) "
    psql -q "$db_url" -c "$n $sessions" -c "$n $grants" \
      -c "$n INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) SELECT encode(sha256(('bench-rt-' || i)::bytea), 'hex'), 'bench-g-' || i, $now, $now + 43200 FROM n"
  fi
  seq 1 10000 | sed 's/^/bench-rt-/' > "$dir/touch.txt"
  # A fresh process (no argon2 working memory held), then every session touched once.
  stop_server
  start_server
  wrk_row "$backend" "refresh grant, 10,000 sessions each refreshed once" -t8 -c8 -d30s -s bench/codes.lua "$BASE" -- "$dir/touch.txt" 8 refresh
  local rss_sessions; rss_sessions=$(rss_kib "$SERVER_PID")
  row "$backend" "RSS: idle / right after 10,000 live sessions were each refreshed once / right after every load above (sign-in storms included; hashing threads still hold their working memory) / 3 s later" "-" "$((rss_idle / 1024)) MiB / $((rss_sessions / 1024)) MiB / $((rss_after_all / 1024)) MiB / $((rss_settled / 1024)) MiB" "-" "-"

  stop_server
  if [ "$kind" = postgres ]; then drop_pg_db "$name"; fi
}

run_backend sqlite sqlite full
if pg_isready -q -h 127.0.0.1 -p 5432; then
  if [ -S "$PG_SOCKET_DIR/.s.PGSQL.5432" ]; then
    run_backend "postgres (Unix socket)" "$PG_SOCKET_BASE" full
    run_backend "postgres (TCP + TLS)" "$PG_BASE" quick
    run_backend "postgres (Unix socket, pool_size = 10)" "$PG_SOCKET_BASE" quick 10
  else
    run_backend "postgres (TCP)" "$PG_BASE" full
  fi
else
  log "PostgreSQL not reachable: skipped"
fi


{
  echo "<!-- generated by bench/run.sh; see docs/performance.md's notes below the table -->"
  # The CPU matters for RSA: with AVX-512 IFMA, an RSA-2048 signature takes a third of the time.
  echo "Machine: $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), family $(awk -F': ' '/^cpu family/ {print $2; exit}' /proc/cpuinfo), AVX-512 IFMA: $(grep -qw avx512ifma /proc/cpuinfo && echo yes || echo no)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m); date: $(date -u +%Y-%m-%d); run length ${DURATION}s per load."
  echo
  echo "| backend | measurement | req/s | p50 | p99 | errors / notes |"
  echo "|---|---|---|---|---|---|"
  cat "$RESULTS"
  echo
  echo "argon2id at the configured parameters (m=19456 KiB, t=2, p=1). The ceiling row runs one verification per core at"
  echo "the same time on the server's hashing pool, as a sign-in storm does; the memory-hard hashes then share the memory"
  echo "bandwidth, so it is below the one-core rate times the cores. Password sign-ins/s: ${SIGNIN_RATE[sqlite]:-n/a} (SQLite), ${SIGNIN_RATE[postgres (Unix socket)]:-${SIGNIN_RATE[postgres (TCP)]:-n/a}} (PostgreSQL)."
} > bench/last-results.md
cat bench/last-results.md
