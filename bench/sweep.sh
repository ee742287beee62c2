#!/usr/bin/env bash
# The sweeper's first pass on its own, repeatable in seconds (bench/scale.sh measures it once per
# backend inside a 12-minute run). Per backend, seeds once: SESSIONS users, one live session each
# with a grant (demo app, which listens for back-channel logout) and a refresh token, a tenth of
# them already past their idle deadline, two audit events per user; then vacuums, analyzes and
# checkpoints it. Each run starts the release provider on a fresh copy of that database, with a
# checkpoint just before (so every page the pass writes goes to the WAL whole: the pessimistic
# case), waits for the first pass to end the idled-out share, reads the pass's duration from
# /metrics and waits for its logouts to be delivered. On PostgreSQL with pg_stat_statements
# loaded, the costliest statements of the last run follow. Writes bench/sweep-results.md.
# Usage: bench/sweep.sh [runs, default 3] [sessions, default 100000]
# (BENCH_BACKENDS="sqlite postgres" by default; BENCH_NO_BUILD=1 uses the built binary.)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
SESSIONS="${2:-100000}"
for tool in curl python3 sqlite3 psql; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done
# shellcheck source=bench/common.sh
. bench/common.sh
build_release
WORK=$(mktemp -d)
SINK_PID=""
TEMPLATE="idp_sweep_tpl_$$"
RUN_DB="idp_sweep_run_$$"
cleanup() {
  stop_server
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
  drop_pg_db "$RUN_DB" 2>/dev/null || true
  drop_pg_db "$TEMPLATE" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
start_logout_sink
metric() { curl -s "$BASE/metrics" | awk -v m="$1" '$1==m {print $2}'; }
sql() { if [ "$KIND" = sqlite ]; then sqlite3 "$1" "$2"; else psql -qAt "$1" -c "$2"; fi; }

seed() { # $1: the template's URL or file
  local db=$1 now hash
  DIR="$WORK/seed-$KIND"; mkdir -p "$DIR"; CONF="$DIR/idp.toml"
  if [ "$KIND" = sqlite ]; then write_config "sqlite://$db" "$(free_port)"; else write_config "$db" "$(free_port)"; fi
  "$BIN" --config "$CONF" migrate >/dev/null
  "$BIN" --config "$CONF" account create acme --name Acme >/dev/null
  printf '%s\n' "$PW" | "$BIN" --config "$CONF" user create --account acme --email seed@acme.example --password-stdin >/dev/null
  hash=$(sql "$db" "SELECT password_hash FROM users WHERE email = 'seed@acme.example'")
  python3 - "$SESSIONS" "$hash" <<'PY' | "$BIN" --config "$CONF" import --file - --all-accounts --create-accounts >/dev/null
import json, sys
n, h = int(sys.argv[1]), sys.argv[2]
for i in range(1, n + 1):
    sys.stdout.write(json.dumps({"account": f"acct{i % 1000}", "email": f"u{i}@acme.example", "name": f"User {i}",
                                 "work_email": f"user{i}@work.example", "status": "active", "password_hash": h}) + "\n")
PY
  now=$(date +%s)
  local sessions="INSERT INTO sso_sessions (id, secret_hash, user_id, auth_time, amr, created_at, last_active_at, idle_timeout_secs, expires_at, idle_expires_at)
    SELECT 'bench-s-' || n, 'bench-h-' || n, uid, $now - 60, 'pwd', $now - 60, $now - 60, 1800, $now + 43200,
           CASE WHEN n % 10 = 0 THEN $now - 5 ELSE $now + 86400 END
    FROM (SELECT id AS uid, ROW_NUMBER() OVER (ORDER BY id) AS n FROM users WHERE email LIKE 'u%') p"
  local grants="INSERT INTO grants (id, session_id, user_id, client_id, scope, created_at)
    SELECT 'bench-g-' || SUBSTR(s.id, 9), s.id, s.user_id, 'demo', 'openid', $now - 60 FROM sso_sessions s"
  local audit="INSERT INTO audit_events (at, action, actor, account_id, user_id, detail)
    SELECT $now - 86400, 'user.created', 'operator:bench', account_id, id, NULL FROM users
    UNION ALL SELECT $now - 3600, 'signin.password', 'user', account_id, id, NULL FROM users"
  if [ "$KIND" = sqlite ]; then
    python3 - "$db" "$sessions" "$grants" "$audit" "$now" <<'PY'
import hashlib, sqlite3, sys
db, sessions, grants, audit, now = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
c = sqlite3.connect(db)
c.execute("PRAGMA foreign_keys=ON")
c.execute(sessions); c.execute(grants); c.execute(audit)
c.create_function("rt", 1, lambda n: hashlib.sha256(f"bench-rt-{n}".encode()).hexdigest())
c.execute("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) SELECT rt(SUBSTR(id, 9)), id, ?, ? FROM grants", (now - 60, now + 43200))
c.commit()
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
  else
    psql -q "$db" -c "$sessions" -c "$grants" -c "$audit" \
      -c "INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) SELECT encode(sha256(('bench-rt-' || SUBSTR(id, 9))::bytea), 'hex'), id, $now - 60, $now + 43200 FROM grants" \
      -c "VACUUM (ANALYZE)" -c "CHECKPOINT"
  fi
}

# One run: a copy of the template, the provider on it, the first pass and its deliveries.
# Prints "pass_ms delivered_ms ended".
run_once() { # $1: the template
  local db expired t0
  DIR="$WORK/run-$KIND"; rm -rf "$DIR"; mkdir -p "$DIR"; CONF="$DIR/idp.toml"
  if [ "$KIND" = sqlite ]; then
    cp "$1" "$DIR/idp.db"; db="$DIR/idp.db"; write_config "sqlite://$db" "$(free_port)"
  else
    psql -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $RUN_DB WITH (FORCE)" -c "CREATE DATABASE $RUN_DB TEMPLATE $TEMPLATE" >&2
    db="${PG_BASE%/*}/$RUN_DB"; write_config "$db" "$(free_port)"
  fi
  sed -i "/^client_id = \"demo\"/a backchannel_logout_uri = \"http://127.0.0.1:$SINK_PORT/backchannel\"" "$CONF"
  expired=$(sql "$db" "SELECT COUNT(*) FROM sso_sessions WHERE ended_at IS NULL AND idle_expires_at <= $(date +%s)")
  if [ "$KIND" = postgres ]; then
    sql "$db" "CHECKPOINT" >/dev/null
    [ "$PGSS" = no ] || sql "$db" "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()" >/dev/null
  fi
  start_server
  t0=$(date +%s)
  until [ "$(metric idp_sessions_expired_total)" = "$expired" ]; do
    [ $(( $(date +%s) - t0 )) -lt 120 ] || die "the sweeper did not end $expired sessions"
    sleep 0.02
  done
  local pass; pass=$(metric idp_sweep_duration_seconds_sum)
  t0=$(date +%s%N)
  until [ "$(metric 'idp_backchannel_logouts_total{outcome="sent"}' | cut -d. -f1)" -ge "$expired" ] 2>/dev/null; do
    [ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt 300 ] || die "the pass's logouts were not delivered"
    sleep 0.05
  done
  local delivered=$(( ($(date +%s%N) - t0) / 1000000 ))
  stop_server
  if [ "$KIND" = postgres ] && [ "$PGSS" = yes ]; then
    psql -qAt -F ' | ' "$db" -c "SELECT calls, round(total_exec_time::numeric, 1) || ' ms', left(regexp_replace(query, '\s+', ' ', 'g'), 120) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 10" \
      | sed 's/^/| /; s/$/ |/' > "$WORK/statements"
  fi
  echo "$(echo "$pass * 1000 / 1" | bc) $delivered $expired"
}

REPORT="$WORK/report.md"
{
  echo "# The sweeper's first pass (bench/sweep.sh $RUNS $SESSIONS)"
  echo
  machine_line
  echo "Load (/proc/loadavg) before: $(cat /proc/loadavg)."
  echo
  echo "| backend | run | first pass | its logouts delivered, after it | sessions ended |"
  echo "|---|---|--:|--:|--:|"
} > "$REPORT"
for KIND in ${BENCH_BACKENDS:-sqlite postgres}; do
  PGSS=no
  if [ "$KIND" = sqlite ]; then
    tpl="$WORK/template.db"
  else
    tpl=$(fresh_pg_db "$TEMPLATE")
    if psql -qAt "$tpl" -c "SHOW shared_preload_libraries" | grep -q pg_stat_statements; then PGSS=yes; fi
  fi
  log "$KIND: seeding $SESSIONS sessions"
  seed "$tpl"
  passes=()
  for r in $(seq 1 "$RUNS"); do
    read -r pass delivered ended <<< "$(run_once "$tpl")"
    log "$KIND run $r: pass $pass ms, delivered $delivered ms"
    echo "| $KIND | $r | $pass ms | $delivered ms | $ended |" >> "$REPORT"
    passes+=("$pass")
  done
  median=$(printf '%s\n' "${passes[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "| $KIND | **median** | **$median ms** | | |" >> "$REPORT"
  if [ "$KIND" = postgres ] && [ "$PGSS" = yes ] && [ -s "$WORK/statements" ]; then
    STATEMENTS=$(cat "$WORK/statements")
  fi
done
{
  echo
  echo "Load after: $(cat /proc/loadavg)."
  if [ -n "${STATEMENTS:-}" ]; then
    echo
    echo "PostgreSQL, last run: the costliest statements of start-up, the pass and its deliveries:"
    echo
    echo "| calls | total time | statement |"
    echo "|--:|--:|---|"
    echo "$STATEMENTS"
  elif [[ " ${BENCH_BACKENDS:-sqlite postgres} " == *" postgres "* ]]; then
    echo
    echo "(pg_stat_statements is not loaded: no per-statement split.)"
  fi
} >> "$REPORT"
{ echo "<!-- generated by bench/sweep.sh; see docs/performance.md -->"; cat "$REPORT"; } > bench/sweep-results.md
cat "$REPORT"
