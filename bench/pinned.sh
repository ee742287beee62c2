#!/usr/bin/env bash
# The provider alone on one core (issue 31 part 1). The provider runs under `taskset -c 0`: one
# HTTP worker, one hashing thread and a database pool of 4 follow from it (each defaults to the
# cores the process may run on). Everything else runs on core 1: this script and every helper it
# starts (wrk, curl, the /userinfo probe, psql), and the running PostgreSQL cluster's processes,
# moved there with `taskset -pc 1` for the run and put back on their previous cores at the end.
#
# Both backends are set up first (64 users each, 16 signed-in browsers), then ROUNDS interleaved
# rounds (SQLite then PostgreSQL within each round; the order of the sign-in concurrencies turns
# each round) of, per backend:
# - the argon2id ceiling, measured on core 0 just before each sign-in load (`idp-server ceiling`:
#   one verification at a time at the configured parameters, through the provider's own hasher),
#   then full password sign-ins (authorize, page, form, token) at 4, 16 and 64 concurrent
#   browsers, each its own user and address (X-Forwarded-For from a trusted proxy, 127.0.0.1),
#   while a probe on core 1 asks /userinfo every 10 ms and records each answer's latency;
# - the RS256 and ES256 signing ceilings on core 0 (the provider's own signer and keys), then the
#   refresh grant with rotation (16 chains over 16 sessions; an RS256 ID token and an RS256
#   access token per refresh, so its ceiling is half the RS256 signatures per second);
# - /userinfo and the code grant: the provider's CPU per operation.
# Over each load, per-process CPU from /proc: the provider, the database (this run's backends and
# PostgreSQL's background processes; SQLite runs inside the provider), the load generator (wrk and
# the probe), and how busy each core was (core 0 minus the provider: other people's work there).
# Then medians and spreads over the rounds, each goal's ratio with PASS/MISS, /proc/loadavg
# before and after, and (where a refresh or sign-in goal is missed and perf works here) a perf
# profile of the provider over one more load of that kind.
# Writes bench/pinned-results.md (--quick: one short round, written to $WORK only and printed).
# Usage: bench/pinned.sh [--quick] [seconds per load, default 8] [rounds, default 3]
# Environment: BENCH_BACKENDS="sqlite postgres" (default both), CARGO_TARGET_DIR, BENCH_NO_BUILD.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=no
if [ "${1:-}" = --quick ]; then QUICK=yes; shift; fi
if [ "$QUICK" = yes ]; then DURATION=${1:-3}; ROUNDS=${2:-1}; CEIL_SECS=1; CODES=300
else DURATION=${1:-8}; ROUNDS=${2:-3}; CEIL_SECS=2; CODES=1000; fi
for tool in wrk jq curl python3 bc psql taskset; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done
[ "$(nproc --all)" -ge 2 ] || { echo "error: two cores are needed (0 for the provider, 1 for the rest)" >&2; exit 1; }
# shellcheck source=bench/common.sh
. bench/common.sh
build_release

WORK=$(mktemp -d)
REPORT=bench/pinned-results.md
[ "$QUICK" = no ] || REPORT="$WORK/pinned-results.md"
ROWS="$WORK/rows.md"; : > "$ROWS"
VALUES="$WORK/values"; : > "$VALUES" # "backend key value" per measurement, for the medians
LOAD_BEFORE=$(cat /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
BACKENDS=()
for b in ${BENCH_BACKENDS:-sqlite postgres}; do
  if [ "$b" = postgres ] && ! pg_isready -q -h 127.0.0.1 -p 5432; then log "PostgreSQL not reachable: skipped"; continue; fi
  BACKENDS+=("$b")
done

# Everything from here on runs on core 1, except the provider and its ceilings.
taskset -pc 1 $$ >/dev/null
SERVER_WRAP=(taskset -c 0)

# The PostgreSQL cluster: every process moved to core 1, its previous cores written down.
PG_AFFINITY="$WORK/pg-affinity"; : > "$PG_AFFINITY"
PG_POSTMASTER=""
pg_pin() {
  local data; data=$(psql -qAt "$PG_BASE" -c "SHOW data_directory")
  PG_POSTMASTER=$(head -1 "$data/postmaster.pid" 2>/dev/null || true)
  [ -n "$PG_POSTMASTER" ] || die "cannot read the postmaster's pid from $data/postmaster.pid (run as root or as postgres)"
  local p
  for p in "$PG_POSTMASTER" $(pgrep -P "$PG_POSTMASTER"); do
    echo "$p $(taskset -pc "$p" | awk '{print $NF}')" >> "$PG_AFFINITY"
    taskset -pc 1 "$p" >/dev/null
  done
}
# Back where they were; backends started during the run (forked from the pinned postmaster) get
# the postmaster's previous cores.
pg_unpin() {
  [ -n "$PG_POSTMASTER" ] || return 0
  local p cpus orig
  orig=$(awk -v pm="$PG_POSTMASTER" '$1==pm {print $2}' "$PG_AFFINITY")
  while read -r p cpus; do taskset -pc "$cpus" "$p" >/dev/null 2>&1 || true; done < "$PG_AFFINITY"
  for p in $(pgrep -P "$PG_POSTMASTER"); do
    grep -q "^$p " "$PG_AFFINITY" || taskset -pc "$orig" "$p" >/dev/null 2>&1 || true
  done
  PG_POSTMASTER=""
}
declare -A B_PID B_DIR B_CONF B_BASE B_ACCESS B_DB
cleanup() {
  local b
  for b in "${!B_PID[@]}"; do kill "${B_PID[$b]}" 2>/dev/null || true; done
  pg_unpin
  if [ -n "${B_DB[postgres]:-}" ]; then drop_pg_db "${B_DB[postgres]}" 2>/dev/null || true; fi
  [ -n "${BENCH_KEEP:-}" ] || [ "$QUICK" = yes ] || rm -rf "$WORK"
}
trap cleanup EXIT

# The state of one backend's provider, as the common functions read it.
use_backend() {
  BACKEND=$1 DIR=${B_DIR[$1]} CONF=${B_CONF[$1]} BASE=${B_BASE[$1]} SERVER_PID=${B_PID[$1]} ACCESS=${B_ACCESS[$1]}
  export BASE
}

# --- /proc readings ---------------------------------------------------------------------------
# utime+stime (field 14, 15) of the pids, in clock ticks; cutime+cstime (16, 17) with "children".
ticks() {
  local t=0 p v
  for p in "$@"; do
    v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || true
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
# "busy0 total0 busy1 total1" from /proc/stat (busy: everything but idle and iowait).
cores() { awk '$1=="cpu0" || $1=="cpu1" {b=$2+$3+$4+$7+$8+$9; printf "%d %d ", b, b+$5+$6} END {print ""}' /proc/stat; }
TCK=$(getconf CLK_TCK)
DB_PIDS=()
window_start() {
  DB_PIDS=()
  if [ "$BACKEND" = postgres ]; then
    mapfile -t DB_PIDS < <(psql -qAt "$PG_BASE" -c "SELECT pid FROM pg_stat_activity WHERE (datname = '${B_DB[postgres]}' AND pid <> pg_backend_pid()) OR backend_type IN ('checkpointer', 'background writer', 'walwriter', 'autovacuum launcher')")
  fi
  W_PROV=$(ticks "$SERVER_PID"); W_DB=$(ticks "${DB_PIDS[@]}"); W_CORES=$(cores)
}
# Sets CPU_PROV CPU_DB (ms), CORE0 CORE0_OTHERS CORE1 (% busy over the window).
window_end() {
  local p d c; p=$(ticks "$SERVER_PID"); d=$(ticks "${DB_PIDS[@]}"); c=$(cores)
  CPU_PROV=$(( (p - W_PROV) * 1000 / TCK ))
  CPU_DB=$(( (d - W_DB) * 1000 / TCK ))
  [ "$BACKEND" = postgres ] || CPU_DB="-"
  read -r CORE0 CORE0_OTHERS CORE1 <<< "$(echo "$W_CORES $c $((p - W_PROV))" | awk '{
    b0 = $5 - $1; t0 = $6 - $2; b1 = $7 - $3; t1 = $8 - $4; prov = $9
    printf "%.0f %.0f %.0f", 100 * b0 / t0, 100 * (b0 - prov) / t0, 100 * b1 / t1 }')"
}
# lg OUT CMD...: runs the load generator CMD with its output in OUT; sets CPU_LG (ms of CPU it
# used, read by the wrapping shell from its children's times).
lg() {
  local out=$1; shift
  CPU_LG=$(bash -c 'out=$1; shift; "$@" > "$out" 2>&1; s=$?; sed "s/.*) //" /proc/$$/stat | awk "{print \$14 + \$15}"; exit $s' _ "$out" "$@") \
    || { cat "$out" >&2; die "the load generator failed: $*"; }
  CPU_LG=$(( CPU_LG * 1000 / TCK ))
}
# What wrk said: its request count and rate; refuses a load with failed answers.
wrk_read() {
  if grep -q 'Non-2xx\|Socket errors' "$1"; then cat "$1" >&2; die "$BACKEND: the load \"$2\" had failed requests"; fi
  W_REQS=$(awk '/requests in/ {print $1}' "$1")
  W_RATE=$(awk '/^RATE / {print $2}' "$1"); [ -n "$W_RATE" ] || W_RATE=$(awk '/Requests\/sec/ {print $2}' "$1")
  W_P99=$(awk '$1=="99%" {print $2}' "$1")
  [ -n "$W_REQS" ] && [ -n "$W_RATE" ] || { cat "$1" >&2; die "cannot read wrk's output for \"$2\""; }
}


# The ceiling on core 0: "per_s ms wall_per_s" of argon2id, RS256 or ES256: operations per
# second of CPU time and CPU ms per operation (what core 0 does when the operation has it to
# itself: on this shared machine the wall-clock rate, also given, measures the neighbours too).
ceiling() {
  local line
  line=$(taskset -c 0 "$BIN" --config "$CONF" ceiling --seconds "$CEIL_SECS" --only "$1" 2>>"$DIR/log" | awk -v w="$1" '$1==w {print $2, $3, $5}')
  [ -n "$line" ] || die "cannot measure the $1 ceiling"
  echo "$line"
}

value() { echo "$BACKEND $1 $2" >> "$VALUES"; }
# One row of the per-load table.
row() { # round, load, rate, ceiling, ratio, userinfo p99, ops[, ceiling CPU ms per op]
  local per="" share="-"
  [ "${7:-0}" -gt 0 ] && per=" ($(echo "scale=0; $CPU_PROV * 1000 / $7" | bc) µs/op)"
  # The share of the provider's CPU that went to the ceiling's work (argon2, the signatures).
  if [ -n "${8:-}" ] && [ "$CPU_PROV" -gt 0 ]; then share="$(echo "scale=1; 100 * $8 * $7 / $CPU_PROV" | bc)%"; fi
  echo "| $BACKEND | $1 | $2 | $3 | $4 | $5 | $share | $6 | $CPU_PROV ms$per | $CPU_DB ms | $CPU_LG ms | $CORE0% ($CORE0_OTHERS% others) | $CORE1% |" >> "$ROWS"
}

# --- set-up ---------------------------------------------------------------------------------
setup_backend() {
  local b=$1 db_url
  DIR=$(mktemp -d -p "$WORK"); CONF="$DIR/idp.toml"; BACKEND=$b
  if [ "$b" = sqlite ]; then db_url="sqlite://$DIR/idp.db"; else
    B_DB[postgres]="idp_pinned_$$"
    db_url=$(fresh_pg_db "${B_DB[postgres]}")
  fi
  write_config "$db_url" "$(free_port)"
  # Each browser has its own address (X-Forwarded-For from bench/signin.lua, believed from
  # 127.0.0.1 as from a proxy): the per-address limits count each browser, as in production.
  printf '\n[server]\ntrusted_proxies = ["127.0.0.1"]\n' >> "$CONF"
  "$BIN" --config "$CONF" migrate >/dev/null
  "$BIN" --config "$CONF" account create acme --name Acme >/dev/null
  printf '%s\n' "$PW" | "$BIN" --config "$CONF" user create --account acme --email u1@acme.example --password-stdin >/dev/null
  local hash i
  if [ "$b" = sqlite ]; then hash=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT password_hash FROM users\").fetchone()[0])" "$DIR/idp.db")
  else hash=$(psql -qAt "$db_url" -c "SELECT password_hash FROM users"); fi
  for i in $(seq 2 64); do
    printf '{"account":"acme","email":"u%d@acme.example","status":"active","password_hash":"%s"}\n' "$i" "$hash"
  done | "$BIN" --config "$CONF" import --file - --account acme >/dev/null
  SERVER_PID=""
  start_server
  # 16 signed-in browsers (users u1-u16, a session each): the refresh chains and the codes.
  ACCESS=""
  for i in $(seq 1 16); do
    local loc; loc=$(sign_in_jar "$DIR/jar$i" "u$i@acme.example")
    [ "$i" = 1 ] && ACCESS=$(redeem "$(echo "$loc" | code_of)" | jq -r .access_token)
  done
  [ -n "$ACCESS" ] && [ "$ACCESS" != null ] || die "$b: the benchmark user cannot sign in"
  local threads; threads=$(awk '/^Threads:/ {print $2}' "/proc/$SERVER_PID/status")
  log "$b: provider pid $SERVER_PID on cores $(taskset -pc "$SERVER_PID" | awk '{print $NF}'), $threads threads"
  B_PID[$b]=$SERVER_PID B_DIR[$b]=$DIR B_CONF[$b]=$CONF B_BASE[$b]=$BASE B_ACCESS[$b]=$ACCESS
}

# --- the loads ------------------------------------------------------------------------------
signins() { # round, concurrency
  local r=$1 c=$2 ceil ms wall
  read -r ceil ms wall <<< "$(ceiling argon2id)"
  rm -f "$DIR/stop"
  probe "$ACCESS" "$DIR/stop" > "$DIR/probe" &
  local p=$!
  window_start
  lg "$DIR/wrk.out" wrk -t"$c" -c"$c" -d"${DURATION}s" -s bench/signin.lua "$BASE" -- 64 forwarded
  window_end
  touch "$DIR/stop"; wait "$p" || die "the userinfo probe failed"
  local total rate fails p50 p99 max n pcpu
  read -r _ total rate fails <<< "$(grep '^SIGNINS' "$DIR/wrk.out")"
  [ "${fails:-1}" = 0 ] || { cat "$DIR/wrk.out" >&2; die "$BACKEND: sign-ins failed at $c"; }
  read -r p50 p99 max n pcpu < "$DIR/probe"
  CPU_LG=$((CPU_LG + pcpu))
  local pct; pct=$(echo "scale=1; 100 * $rate / $ceil" | bc)
  value "signin$c" "$pct"; value "p99_$c" "$p99"; value "signin${c}_rate" "$rate"; value "argon2" "$ceil"
  value "signin${c}_cpu" "$(echo "scale=2; $CPU_PROV / $total" | bc)"
  row "$r" "sign-ins, $c browsers" "$rate/s" "argon2id $ceil/s ($ms ms; $wall/s by the wall clock)" "$pct%" "p50 $p50 / p99 $p99 / max $max ms ($n)" "$total" "$ms"
}
refresh() { # round
  local r=$1 rs es rs_ms es_ms rs_wall es_wall i
  read -r rs rs_ms rs_wall <<< "$(ceiling RS256)"
  read -r es es_ms es_wall <<< "$(ceiling ES256)"
  # Fresh chains each round (a chain's tokens are spent by the load that used them).
  : > "$DIR/tokens"
  for i in $(seq 1 16); do redeem "$(new_code "$DIR/jar$i")" | jq -r .refresh_token >> "$DIR/tokens"; done
  local ceil; ceil=$(echo "scale=1; $rs / 2" | bc)
  window_start
  lg "$DIR/wrk.out" wrk --latency -t16 -c16 -d"${DURATION}s" -s bench/refresh.lua "$BASE" -- "$DIR/tokens"
  window_end
  wrk_read "$DIR/wrk.out" refresh
  local pct; pct=$(echo "scale=1; 100 * $W_RATE / $ceil" | bc)
  value refresh "$pct"; value refresh_rate "$W_RATE"; value rs256 "$rs"; value es256 "$es"
  value refresh_cpu "$(echo "scale=0; $CPU_PROV * 1000 / $W_REQS" | bc)"
  value refresh_sign "$(echo "scale=0; 2 * $rs_ms * 1000 / 1" | bc)"
  row "$r" "refresh (rotation, 16 chains)" "$W_RATE/s" "$ceil/s (RS256 $rs/s, $rs_ms ms, $rs_wall/s by the wall clock; ES256 $es/s, $es_ms ms, $es_wall/s)" "$pct%" "request p99 $W_P99" "$W_REQS" "$(echo "scale=3; 2 * $rs_ms" | bc)"
}
userinfo() { # round
  window_start
  lg "$DIR/wrk.out" wrk --latency -t1 -c8 -d"${DURATION}s" -H "Authorization: Bearer $ACCESS" "$BASE/userinfo"
  window_end
  wrk_read "$DIR/wrk.out" userinfo
  value userinfo_cpu "$(echo "scale=1; $CPU_PROV * 1000 / $W_REQS" | bc)"; value userinfo_rate "$W_RATE"
  row "$1" "GET /userinfo (8 connections)" "$W_RATE/s" "-" "-" "request p99 $W_P99" "$W_REQS"
}
code_grant() { # round
  # $CODES fresh codes from the 16 browsers, 4 curls at a time.
  seq 1 "$CODES" | awk '{print ($1 % 16) + 1}' \
    | xargs -P 4 -I{} curl -s -b "$DIR/jar{}" -o /dev/null -w '%{redirect_url}\n' "$BASE/authorize?client_id=demo&redirect_uri=$CB&response_type=code&scope=openid&state=s&$PKCE" \
    | code_of > "$DIR/codes"
  local n; n=$(wc -l < "$DIR/codes")
  [ "$n" -ge "$CODES" ] || die "$BACKEND: only $n of $CODES codes"
  window_start
  # Each wrk thread stops when its share is spent, but wrk itself runs for -d: long enough for
  # the codes at 300 grants/s (this core does ~550).
  lg "$DIR/wrk.out" wrk --latency -t8 -c8 -d"$((CODES / 300 + 1))s" -s bench/codes.lua "$BASE" -- "$DIR/codes" 8
  window_end
  wrk_read "$DIR/wrk.out" "code grant"
  value code_cpu "$(echo "scale=0; $CPU_PROV * 1000 / $W_REQS" | bc)"; value code_rate "$W_RATE"
  row "$1" "code grant ($CODES fresh codes; ID and access token, RS256)" "$W_RATE/s" "-" "-" "request p99 $W_P99" "$W_REQS"
}

# --- the run --------------------------------------------------------------------------------
if [[ " ${BACKENDS[*]} " == *" postgres "* ]]; then pg_pin; fi
for b in "${BACKENDS[@]}"; do log "$b: set-up"; setup_backend "$b"; done
ORDER=(4 16 64)
for r in $(seq 1 "$ROUNDS"); do
  for b in "${BACKENDS[@]}"; do
    use_backend "$b"
    # A fresh access token (they live 5 minutes) for the probe and the /userinfo load.
    ACCESS=$(redeem "$(new_code "$DIR/jar1")" | jq -r .access_token)
    [ -n "$ACCESS" ] && [ "$ACCESS" != null ] || die "$b: no access token"
    log "round $r of $ROUNDS, $b: sign-ins at ${ORDER[*]}, refresh, userinfo, code grant (load $(cut -d' ' -f1-3 /proc/loadavg))"
    for c in "${ORDER[@]}"; do signins "$r" "$c"; done
    refresh "$r"
    userinfo "$r"
    code_grant "$r"
  done
  ORDER=("${ORDER[@]:1}" "${ORDER[0]}")
done

# "median min max" of a measurement.
stats() {
  awk -v b="$1" -v k="$2" '$1==b && $2==k {print $3}' "$VALUES" | sort -g | awk '
    {v[NR] = $1} END { if (NR == 0) { print "- - -"; exit }
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}
goal_of() { # kind backend -> goal %
  case "$1:$2" in signin:sqlite) echo 92 ;; signin:postgres) echo 90 ;; refresh:sqlite) echo 90 ;; refresh:postgres) echo 80 ;; esac
}
SUMMARY="$WORK/summary.md"; : > "$SUMMARY"
COSTS="$WORK/costs.md"; : > "$COSTS"
MISSED_REFRESH="" MISSED_SIGNIN=""
for b in "${BACKENDS[@]}"; do
  for c in 4 16 64; do
    read -r med lo hi <<< "$(stats "$b" "signin$c")"
    read -r pmed _ phi <<< "$(stats "$b" "p99_$c")"
    read -r rmed _ _ <<< "$(stats "$b" "signin${c}_rate")"
    goal=$(goal_of signin "$b")
    verdict=MISS
    if [ "$(echo "$med >= $goal && $pmed < 20" | bc)" = 1 ]; then
      verdict=PASS
    elif [[ " $MISSED_SIGNIN " != *" $b "* ]]; then
      MISSED_SIGNIN="$MISSED_SIGNIN $b"
    fi
    echo "| $b | sign-ins, $c browsers ($rmed/s) | $med% of the argon2id ceiling | $lo-$hi% | /userinfo p99 $pmed ms (worst $phi) | ≥ $goal%, p99 < 20 ms | **$verdict** |" >> "$SUMMARY"
  done
  read -r med lo hi <<< "$(stats "$b" refresh)"
  read -r rmed _ _ <<< "$(stats "$b" refresh_rate)"
  goal=$(goal_of refresh "$b")
  verdict=MISS
  if [ "$(echo "$med >= $goal" | bc)" = 1 ]; then verdict=PASS; else MISSED_REFRESH="$MISSED_REFRESH $b"; fi
  echo "| $b | refresh with rotation ($rmed/s) | $med% of the two-signature ceiling | $lo-$hi% | - | ≥ $goal% | **$verdict** |" >> "$SUMMARY"
  for k in "argon2:argon2id verifications per CPU-second on core 0" "rs256:RS256 signatures per CPU-second on core 0" "es256:ES256 signatures per CPU-second on core 0" \
           "signin4_cpu:sign-in at 4 browsers, provider CPU ms per sign-in" "signin16_cpu:sign-in at 16 browsers, provider CPU ms per sign-in" \
           "signin64_cpu:sign-in at 64 browsers, provider CPU ms per sign-in" \
           "refresh_cpu:refresh, provider CPU µs per refresh" "refresh_sign:refresh, of which two RS256 signatures (µs, from the ceiling)" \
           "userinfo_rate:GET /userinfo, requests/s" "userinfo_cpu:GET /userinfo, provider CPU µs per request" \
           "code_rate:code grant, grants/s" "code_cpu:code grant, provider CPU µs per grant"; do
    read -r med lo hi <<< "$(stats "$b" "${k%%:*}")"
    echo "| $b | ${k#*:} | $med | $lo-$hi |" >> "$COSTS"
  done
done

# Where a goal is missed: a profile of the provider over one more load of that kind.
PROFILE="$WORK/profile.txt"; : > "$PROFILE"
profile_load() { # backend, what the load is, then the load's command
  local b=$1 what=$2 pp; shift 2
  perf record -q -F 499 -p "$SERVER_PID" -o "$WORK/perf-$b.data" -- sleep "$DURATION" >/dev/null 2>&1 &
  pp=$!
  "$@" >/dev/null 2>&1
  wait "$pp" || true
  {
    echo "### $b: the provider's CPU over $what by shared object, then by symbol (perf, 499 Hz, no call graphs)"
    echo
    echo '```'
    perf report -q -i "$WORK/perf-$b.data" --no-children --sort dso 2>/dev/null | grep -v '^$' | head -12 || true
    echo
    perf report -q -i "$WORK/perf-$b.data" --no-children --sort symbol 2>/dev/null | grep -v '^$' | head -40 | cut -c1-160 || true
    echo '```'
    echo
  } >> "$PROFILE"
}
if [ -n "$MISSED_REFRESH$MISSED_SIGNIN" ] && [ "$QUICK" = no ] && command -v perf >/dev/null \
   && perf record -o "$WORK/probe.data" -- true >/dev/null 2>&1; then
  for b in $MISSED_REFRESH; do
    use_backend "$b"
    log "$b: perf profile of the provider over a refresh load"
    : > "$DIR/tokens"
    for i in $(seq 1 16); do redeem "$(new_code "$DIR/jar$i")" | jq -r .refresh_token >> "$DIR/tokens"; done
    profile_load "$b" "a refresh load" wrk -t16 -c16 -d"${DURATION}s" -s bench/refresh.lua "$BASE" -- "$DIR/tokens"
  done
  for b in $MISSED_SIGNIN; do
    use_backend "$b"
    log "$b: perf profile of the provider over a sign-in load"
    profile_load "$b" "a sign-in load (16 browsers)" wrk -t16 -c16 -d"${DURATION}s" -s bench/signin.lua "$BASE" -- 64 forwarded
  done
fi
for b in "${BACKENDS[@]}"; do use_backend "$b"; stop_server; unset "B_PID[$b]"; done
pg_unpin
LOAD_AFTER=$(cat /proc/loadavg)

{
  echo "<!-- generated by bench/pinned.sh; do not edit by hand -->"
  machine_line
  echo "Run: $STARTED to $(date -u '+%H:%M:%S UTC'); $([ "$QUICK" = yes ] && echo "--quick, ")${DURATION}s per load, $ROUNDS interleaved round(s), ceilings measured for ${CEIL_SECS}s each on core 0 just before their load."
  echo "The provider ran under \`taskset -c 0\` (one HTTP worker, one hashing thread); this script, wrk, curl, the probe and"
  echo "PostgreSQL's processes on core 1. The machine is shared: other people's processes ran on both cores meanwhile"
  echo "(the column \"core 0 busy\" says how much of core 0 they took during each load). /proc/loadavg before: $LOAD_BEFORE; after: $LOAD_AFTER."
  echo "A ceiling is operations per second of CPU time of \`idp-server ceiling\` on core 0 (the provider's own hasher and signer,"
  echo "one operation at a time): what the core does when the operation has it to itself. A ratio is the load's rate (per"
  echo "second of wall time) over that ceiling, so the share of core 0 that other processes took during the load counts"
  echo "against it; the column \"ceiling's work in the provider's CPU\" (the ceiling's CPU per operation times the operations,"
  echo "over the provider's CPU in the load) is the same ratio without them: what the rest of the path costs."
  echo
  echo "| backend | goal | median | spread over the rounds | meanwhile | goal | verdict |"
  echo "|---|---|---|---|---|---|---|"
  cat "$SUMMARY"
  echo
  echo "Ceilings and CPU per operation (median, and lowest-highest over the rounds):"
  echo
  echo "| backend | measurement | median | spread |"
  echo "|---|---|---|---|"
  cat "$COSTS"
  echo
  echo "Every load. CPU over the load from /proc: the provider (and per operation), the database (this run's backends and"
  echo "PostgreSQL's background processes; SQLite runs inside the provider), the load generator (wrk, and the probe during"
  echo "sign-ins); how busy each core was (on core 0, \"others\" is everything but the provider)."
  echo
  echo "| backend | round | load | rate | ceiling | ratio | ceiling's work in the provider's CPU | latency | provider CPU | database CPU | load generator CPU | core 0 busy | core 1 busy |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  cat "$ROWS"
  if [ -s "$PROFILE" ]; then echo; cat "$PROFILE"; fi
} > "$REPORT"
cat "$REPORT"
[ "$QUICK" = no ] || log "quick run: the report is in $REPORT (bench/pinned-results.md is left as it was)"
