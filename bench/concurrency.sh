#!/usr/bin/env bash
# Sign-ins and refreshes under any concurrency, against ceilings measured in the same run.
# Per backend, ROUNDS interleaved rounds (the order of the concurrencies turns each round, so a
# drift of the machine's speed falls on all of them alike); each round measures:
# - the argon2id ceiling: the provider's own verification (criterion, one per core at once);
# - full password sign-ins (authorize, page, form, token) with 4, 16 and 64 concurrent browsers,
#   while a probe asks /userinfo every 10 ms and records each answer's latency;
# - the RS256 signing ceiling: the provider's own signing (criterion, one core, times the cores),
#   and a refresh load (16 chains, one per signed-in user), each refresh signing two tokens
#   (access and ID token).
# Writes bench/concurrency-results.md. Bounded: about 3 minutes per backend at the defaults.
# Usage: bench/concurrency.sh [seconds per load, default 8] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-8}"
ROUNDS="${2:-3}"
for tool in wrk jq curl python3 bc psql; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done
# shellcheck source=bench/common.sh
. bench/common.sh
build_release
cargo bench --locked -p idp-server --bench hot --no-run >&2
WORK=$(mktemp -d)
RESULTS="$WORK/results.md"; SUMMARY="$WORK/summary.md"
: > "$RESULTS"; : > "$SUMMARY"
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT

# Criterion's "time: [low mid high]" -> the mid value in ms.
crit_ms() { # $1: benchmark filter; prints the mid time of each matching benchmark, one per line
  cargo bench --locked -p idp-server --bench hot -- "$1" --warm-up-time 1 --measurement-time 3 2>/dev/null \
    | grep -o 'time: *\[[^]]*\]' | awk '{v=$4; u=$5; if (u=="µs") v/=1000; if (u=="s") v*=1000; print v}'
}
argon2_ceiling() { # hashes/s with one verification per core at once
  local both; both=$(crit_ms "argon2id" | sed -n 2p)
  [ -n "$both" ] || die "cannot read the argon2 ceiling from criterion"
  echo "scale=1; $(nproc) * 1000 / $both" | bc
}
refresh_ceiling() { # refreshes/s if both signatures of each ran on every core, nothing else
  local one; one=$(crit_ms "sign RS256" | sed -n 1p)
  [ -n "$one" ] || die "cannot read the RS256 signing time from criterion"
  echo "scale=1; $(nproc) * 1000 / (2 * $one)" | bc
}


signins() { # $1 concurrency -> "rate userinfo-p50 p99 max n"
  local stop="$DIR/stop" out p
  rm -f "$stop"
  probe "$ACCESS" "$stop" > "$DIR/probe" &
  p=$!
  out=$(wrk -t"$1" -c"$1" -d"${DURATION}s" -s bench/signin.lua "$BASE" -- 64 forwarded 2>/dev/null)
  touch "$stop"; wait "$p" || die "the userinfo probe failed"
  local rate fails
  read -r _ _ rate fails <<< "$(echo "$out" | grep '^SIGNINS')"
  [ "${fails:-1}" = 0 ] || die "sign-ins failed at $1: $out"
  echo "$rate $(cat "$DIR/probe")"
}

run_backend() {
  BACKEND=$1
  DIR=$(mktemp -d -p "$WORK")
  CONF="$DIR/idp.toml"
  if [ "$BACKEND" = sqlite ]; then DB_URL="sqlite://$DIR/idp.db"; else DB_URL=$(fresh_pg_db "idp_conc_$$"); fi
  write_config "$DB_URL" "$(free_port)"
  # Each browser has its own address (X-Forwarded-For from bench/signin.lua, believed from
  # 127.0.0.1 as from a proxy): the per-address limits count each browser, as in production.
  printf '\n[server]\ntrusted_proxies = ["127.0.0.1"]\n' >> "$CONF"
  "$BIN" --config "$CONF" migrate >/dev/null
  "$BIN" --config "$CONF" account create acme --name Acme >/dev/null
  printf '%s\n' "$PW" | "$BIN" --config "$CONF" user create --account acme --email u1@acme.example --password-stdin >/dev/null
  local hash
  if [ "$BACKEND" = sqlite ]; then hash=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT password_hash FROM users\").fetchone()[0])" "$DIR/idp.db")
  else hash=$(psql -qAt "$DB_URL" -c "SELECT password_hash FROM users"); fi
  for i in $(seq 2 64); do
    printf '{"account":"acme","email":"u%d@acme.example","status":"active","password_hash":"%s"}\n' "$i" "$hash"
  done | "$BIN" --config "$CONF" import --file - --account acme >/dev/null
  start_server
  # 16 signed-in browsers (users u1-u16, a session each): the refresh load spreads its chains
  # over them as real users do (16 chains of one session would queue on that session's row).
  local i
  for i in $(seq 1 16); do
    local loc; loc=$(sign_in_jar "$DIR/jar$i" "u$i@acme.example")
    [ "$i" = 1 ] && ACCESS=$(redeem "$(echo "$loc" | code_of)" | jq -r .access_token)
  done
  [ -n "$ACCESS" ] && [ "$ACCESS" != null ] || die "the benchmark user cannot sign in"
  local tokens="$DIR/tokens"

  local order; read -r -a order <<< "${BENCH_ORDER:-4 16 64}"
  declare -A ratio_sum ratio_min p99_max
  local r c
  for r in $(seq 1 "$ROUNDS"); do
    log "$BACKEND: round $r of $ROUNDS (${order[*]})"
    local ceiling; ceiling=$(argon2_ceiling)
    echo "| $BACKEND | $r | argon2id ceiling (one verification per core at once) | $ceiling/s | - |" >> "$RESULTS"
    for c in "${order[@]}"; do
      local rate p50 p99 max n pct
      read -r rate p50 p99 max n _ <<< "$(signins "$c")"
      [ -n "$n" ] || die "the sign-in load at $c failed"
      pct=$(echo "scale=1; 100 * $rate / $ceiling" | bc)
      echo "| $BACKEND | $r | sign-ins, $c concurrent browsers | $rate/s ($pct% of the ceiling) | userinfo p50 $p50 ms, p99 $p99 ms, max $max ms ($n probes) |" >> "$RESULTS"
      ratio_sum[$c]=$(echo "${ratio_sum[$c]:-0} + $pct" | bc)
      if [ -z "${ratio_min[$c]:-}" ] || [ "$(echo "$pct < ${ratio_min[$c]}" | bc)" = 1 ]; then ratio_min[$c]=$pct; fi
      if [ -z "${p99_max[$c]:-}" ] || [ "$(echo "$p99 > ${p99_max[$c]}" | bc)" = 1 ]; then p99_max[$c]=$p99; fi
    done
    order=("${order[@]:1}" "${order[0]}")
    local rceil rrate
    rceil=$(refresh_ceiling)
    # Fresh chains each round (a chain's tokens are spent by the load that used them).
    : > "$tokens"
    for i in $(seq 1 16); do redeem "$(new_code "$DIR/jar$i")" | jq -r .refresh_token >> "$tokens"; done
    local rout; rout=$(wrk -t16 -c16 -d"${DURATION}s" -s bench/refresh.lua "$BASE" -- "$tokens" 2>&1)
    if echo "$rout" | grep -q 'Non-2xx\|Socket errors'; then echo "$rout" >&2; die "the refresh load had failed requests"; fi
    rrate=$(echo "$rout" | awk '/Requests\/sec/ {print $2}')
    [ -n "$rrate" ] || die "the refresh load gave no rate"
    local rpct; rpct=$(echo "scale=1; 100 * $rrate / $rceil" | bc)
    echo "| $BACKEND | $r | refresh, 16 chains of 16 sessions (two RS256 signatures each; ceiling $rceil/s) | $rrate/s ($rpct% of the ceiling) | - |" >> "$RESULTS"
    ratio_sum[refresh]=$(echo "${ratio_sum[refresh]:-0} + $rpct" | bc)
  done
  for c in ${BENCH_ORDER:-4 16 64}; do
    echo "| $BACKEND | sign-ins, $c concurrent browsers | $(echo "scale=1; ${ratio_sum[$c]} / $ROUNDS" | bc)% (lowest round ${ratio_min[$c]}%) | ${p99_max[$c]} ms |" >> "$SUMMARY"
  done
  echo "| $BACKEND | refresh, 16 chains of 16 sessions | $(echo "scale=1; ${ratio_sum[refresh]} / $ROUNDS" | bc)% of the two-signature ceiling | - |" >> "$SUMMARY"
  stop_server
  if [ "$BACKEND" = postgres ]; then drop_pg_db "idp_conc_$$"; fi
}

for b in ${BENCH_BACKENDS:-sqlite postgres}; do
  if [ "$b" = postgres ] && ! pg_isready -q -h 127.0.0.1 -p 5432; then log "PostgreSQL not reachable: skipped"; continue; fi
  run_backend "$b"
done

{
  echo "<!-- generated by bench/concurrency.sh; see docs/performance.md -->"
  echo "Machine: $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)); date: $(date -u +%Y-%m-%d); ${DURATION}s per load, $ROUNDS rounds."
  echo "OpenSSL's own RS256 signing here, for comparison: $(openssl speed -seconds 2 -multi "$(nproc)" rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $6}') signatures/s on all cores."
  echo
  echo "| backend | measurement | mean share of the ceiling over the rounds | worst userinfo p99 |"
  echo "|---|---|---|---|"
  cat "$SUMMARY"
  echo
  echo "| backend | round | measurement | rate | notes |"
  echo "|---|---|---|---|---|"
  cat "$RESULTS"
} > bench/concurrency-results.md
cat bench/concurrency-results.md
