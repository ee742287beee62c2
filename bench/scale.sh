#!/usr/bin/env bash
# The scale benchmark: the same loads at 1,000 users and at 1,000,000 users, in one run, on SQLite
# and on PostgreSQL. Builds in release; per backend, a fresh database is seeded through the
# import command (1,000 accounts, a third with MFA required and every user there with a linked
# app; one real argon2id hash of the benchmark password shared by all), then bulk SQL adds live
# sessions with a grant and a refresh token each (a tenth of them already past their idle
# deadline, for the sweeper) and two audit events per user. At each size it measures: start to
# first 200, the sweeper's first pass, RSS, userinfo, refresh (fresh chains and chains over the
# seeded sessions), code grant, password sign-ins, the lists (CLI and admin API), and the
# provider's CPU time per operation; on PostgreSQL with pg_stat_statements loaded, the database
# round trips and database time per operation; EXPLAIN of every hot query at 1M users.
# Writes bench/scale-results.md. Bounded: about 10 minutes on 2 cores.
# Usage: bench/scale.sh [seconds per load, default 8] [big size, default 1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-8}"
BIG="${2:-1000000}"
SMALL=1000
for tool in wrk jq curl python3 sqlite3 psql bc; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required (apt-get install wrk jq curl sqlite3 postgresql-client bc)" >&2; exit 1; }
done
# shellcheck source=bench/common.sh
. bench/common.sh
build_release
HELPDESK_SECRET="helpdesk-bench-secret-0123456789abcdefghij"
WORK=$(mktemp -d)
LOAD_BEFORE=$(cat /proc/loadavg)
RESULTS="$WORK/results.md"
EXPLAINS="$WORK/explain.md"
COSTS="$WORK/costs.md"
SWEEP="$WORK/sweep.md"
: > "$RESULTS"; : > "$EXPLAINS"; : > "$COSTS"; : > "$SWEEP"
SINK_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# The demo app's back-channel logout endpoint (sets SINK_PORT, SINK_PID).
start_logout_sink

row() { echo "| $1 | $2 | $3 | $4 | $5 |" >> "$RESULTS"; }
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
metric() { curl -s "$BASE/metrics" | awk -v m="$1" '$1==m {print $2}'; }

# wrk -> "requests rate p99"; refuses a load with socket errors or non-2xx answers.
wrk_run() {
  local out rps reqs p99
  out=$(wrk --latency "$@" 2>&1)
  if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then
    echo "$out" >&2; die "the load $* had failed requests"
  fi
  rps=$(echo "$out" | awk '/^RATE / {print $2}')
  [ -n "$rps" ] || rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  [ -n "$rps" ] && [ -n "$reqs" ] || { echo "$out" >&2; die "cannot read wrk's output"; }
  echo "$reqs $rps ${p99:--}"
}

sql() { # one statement on the bench database, rows as text
  if [ "$KIND" = sqlite ]; then sqlite3 "$DIR/idp.db" "$1"; else psql -qAt "$DB_URL" -c "$1"; fi
}

# JSON Lines for users FROM..TO: u{i}@acme.example in account acct{i % 1000}; accounts
# acct667..acct999 (a third) require MFA and their users come with an authenticator secret.
users_jsonl() {
  python3 - "$1" "$2" "$HASH" <<'PY'
import base64, json, sys
lo, hi, h = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
secret = base64.b32encode(bytes(range(20))).decode()
out = sys.stdout
for i in range(lo, hi + 1):
    k = i % 1000
    rec = {"account": f"acct{k}", "email": f"u{i}@acme.example", "name": f"User {i}",
           "work_email": f"user{i}@work.example", "status": "active", "password_hash": h}
    if k >= 667:
        rec["totp_secret"] = secret
    out.write(json.dumps(rec, separators=(",", ":")) + "\n")
PY
}

# Live sessions FROM..TO over users of accounts without MFA, one grant (client demo) and one
# refresh token ("bench-rt-N", stored as its SHA-256 like every token) each; every tenth session
# already past its idle deadline. Two audit events per user FROM..TO of the users table.
seed_sessions() {
  local lo=$1 hi=$2 now; now=$(date +%s)
  local pick="SELECT id AS uid, ROW_NUMBER() OVER (ORDER BY id) + $lo - 1 AS n FROM users u WHERE email LIKE 'u%@acme.example' AND NOT EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = u.id) LIMIT $((hi - lo + 1))"
  local ins="INSERT INTO sso_sessions (id, secret_hash, user_id, auth_time, amr, created_at, last_active_at, idle_timeout_secs, expires_at, idle_expires_at)
    SELECT 'bench-s-' || n, 'bench-h-' || n, uid, $now - 60, 'pwd', $now - 60, $now - 60, 1800, $now + 43200,
           CASE WHEN n % 10 = 0 THEN $now - 5 ELSE $now + 1740 END FROM ($pick) p"
  local grants="INSERT INTO grants (id, session_id, user_id, client_id, scope, created_at)
    SELECT 'bench-g-' || SUBSTR(s.id, 9), s.id, s.user_id, 'demo', 'openid', $now - 60 FROM sso_sessions s
    WHERE s.id LIKE 'bench-s-%' AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.session_id = s.id)"
  if [ "$KIND" = sqlite ]; then
    python3 - "$DIR/idp.db" "$ins" "$grants" "$now" <<'PY'
import hashlib, sqlite3, sys
db, ins, grants, now = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = sqlite3.connect(db)
c.execute("PRAGMA foreign_keys=ON")
c.execute(ins)
c.execute(grants)
c.create_function("rt", 1, lambda n: hashlib.sha256(f"bench-rt-{n}".encode()).hexdigest())
c.execute("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) SELECT rt(SUBSTR(g.id, 9)), g.id, ?, ? FROM grants g "
          "WHERE g.id LIKE 'bench-g-%' AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id)", (now - 60, now + 43200))
c.commit()
PY
  else
    psql -q "$DB_URL" -c "$ins" -c "$grants" \
      -c "INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) SELECT encode(sha256(('bench-rt-' || SUBSTR(g.id, 9))::bytea), 'hex'), g.id, $now - 60, $now + 43200 FROM grants g WHERE g.id LIKE 'bench-g-%' AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id)"
  fi
  sql "INSERT INTO audit_events (at, action, actor, account_id, user_id, detail) SELECT $now - 86400, 'user.created', 'operator:bench', u.account_id, u.id, NULL FROM users u WHERE NOT EXISTS (SELECT 1 FROM audit_events a WHERE a.user_id = u.id AND a.action = 'user.created')"
  sql "INSERT INTO audit_events (at, action, actor, account_id, user_id, detail) SELECT $now - 3600, 'signin.password', 'user', u.account_id, u.id, NULL FROM users u WHERE NOT EXISTS (SELECT 1 FROM audit_events a WHERE a.user_id = u.id AND a.action = 'signin.password')"
}

# The tokens of one real sign-in: an access token, 16 refresh chains, 2,000 codes.
signin_code() {
  sign_in_jar "$1" u1@acme.example | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p'
}

# pg_stat_statements, when the server has it loaded: reset before a load, then per operation.
PGSS=no
pgss_reset() { [ "$PGSS" = yes ] && psql -qAt "$DB_URL" -c "SELECT pg_stat_statements_reset()" >/dev/null || true; }
pgss_cost() { # $1 label, $2 operations done
  [ "$PGSS" = yes ] || return 0
  local calls ms
  read -r calls ms <<< "$(psql -qAt -F ' ' "$DB_URL" -c "SELECT COALESCE(SUM(calls),0), COALESCE(SUM(total_exec_time),0) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'")"
  echo "| $SIZE_LABEL | $1 | $(echo "scale=1; $calls / $2" | bc) | $(echo "scale=3; $ms * 1000 / $2" | bc) µs |" >> "$COSTS"
}

# One load: runs wrk, records rate, p99, the provider's CPU per request and database costs.
load() { # $1 label, rest: wrk arguments
  local label=$1; shift
  local c0 c1 reqs rps p99
  pgss_reset
  c0=$(cpu_ticks "$SERVER_PID")
  read -r reqs rps p99 <<< "$(wrk_run "$@")"
  c1=$(cpu_ticks "$SERVER_PID")
  local cpu_us; cpu_us=$(echo "scale=0; ($c1 - $c0) * 1000000 / $(getconf CLK_TCK) / $reqs" | bc)
  row "$BACKEND" "$SIZE_LABEL" "$label" "$rps" "p99 $p99; provider CPU ${cpu_us} µs/request"
  pgss_cost "$label" "$reqs"
  echo "$rps"
}

# COUNT live sessions of the seed user with one grant (demo) each, for the logout load; their
# cookie secrets go to $DIR/logouts (stored, like every secret, as their SHA-256).
LOGOUT_ROUND=0
seed_logouts() {
  local count=$1 now; now=$(date +%s)
  LOGOUT_ROUND=$((LOGOUT_ROUND + 1))
  local p="bench-l$LOGOUT_ROUND"
  local uid; uid=$(sql "SELECT id FROM users WHERE email = 'seed@acme.example'")
  local nums="WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < $count)"
  local cols="INSERT INTO sso_sessions (id, secret_hash, user_id, auth_time, amr, created_at, last_active_at, idle_timeout_secs, expires_at, idle_expires_at)"
  local vals="'$p-s-' || n, HASH, '$uid', $now - 60, 'pwd', $now - 60, $now - 60, 1800, $now + 43200, $now + 1740 FROM c"
  local grants="INSERT INTO grants (id, session_id, user_id, client_id, scope, created_at) SELECT '$p-g-' || SUBSTR(id, LENGTH('$p-s-') + 1), id, user_id, 'demo', 'openid', $now - 60 FROM sso_sessions WHERE id LIKE '$p-s-%'"
  if [ "$KIND" = sqlite ]; then
    local hash="h('$p-c-' || n)"
    python3 - "$DIR/idp.db" "$nums $cols SELECT ${vals/HASH/$hash}" "$grants" <<'PY'
import hashlib, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.create_function("h", 1, lambda s: hashlib.sha256(s.encode()).hexdigest())
c.execute(sys.argv[2]); c.execute(sys.argv[3]); c.commit()
PY
  else
    local hash="encode(sha256(('$p-c-' || n)::bytea), 'hex')"
    psql -q "$DB_URL" -c "$nums $cols SELECT ${vals/HASH/$hash}" -c "$grants"
  fi
  seq 1 "$count" | sed "s/^/$p-c-/" > "$DIR/logouts"
}

# Waits until the back-channel logouts sent since start reach $1 (bounded; a load cut off by
# wrk may have had a few more logouts done than it counted).
drained() {
  local t0; t0=$(date +%s)
  until [ "$(metric 'idp_backchannel_logouts_total{outcome="sent"}' | cut -d. -f1)" -ge "$1" ] 2>/dev/null; do
    [ $(( $(date +%s) - t0 )) -lt 300 ] || die "$1 back-channel logouts were not delivered (sent: $(metric 'idp_backchannel_logouts_total{outcome="sent"}'))"
    sleep 0.05
  done
}

timed_ms() { local t0; t0=$(date +%s%N); "$@" > /dev/null; echo $(( ($(date +%s%N) - t0) / 1000000 )); }

measure() { # at the current size
  local expired
  expired=$(sql "SELECT COUNT(*) FROM sso_sessions WHERE ended_at IS NULL AND idle_expires_at <= $(date +%s)")
  pgss_reset
  start_server; local startup=$STARTUP_MS
  # The sweeper's first pass runs at start: wait for it to end the expired share.
  local t0; t0=$(date +%s)
  until [ "$(metric idp_sessions_expired_total)" = "$expired" ]; do
    [ $(( $(date +%s) - t0 )) -lt 120 ] || die "the sweeper did not end $expired sessions (metric: $(metric idp_sessions_expired_total))"
    sleep 0.05
  done
  local pass; pass=$(metric idp_sweep_duration_seconds_sum)
  # Then the deliverer: one logout token (an RS256 signature) and one POST to the app per session.
  local t_swept; t_swept=$(date +%s%N)
  drained "$expired"
  local t_drain=$(( ($(date +%s%N) - t_swept) / 1000000 ))
  # Start-up, the first pass and the delivery of its logouts: statements per ended session, and
  # the costliest.
  pgss_cost "start-up, the sweeper's first pass and the delivery of its logouts, per session it ended" "$expired"
  if [ "$PGSS" = yes ]; then
    psql -qAt -F ' | ' "$DB_URL" -c "SELECT '$SIZE_LABEL', calls, round(total_exec_time::numeric, 1) || ' ms', left(regexp_replace(query, '\s+', ' ', 'g'), 160) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 6" | sed 's/^/| /; s/$/ |/' >> "$SWEEP"
  fi
  row "$BACKEND" "$SIZE_LABEL" "start to first 200 / sweeper's first pass" "-" "$startup ms / $(echo "scale=0; $pass * 1000 / 1" | bc) ms for $(sql "SELECT COUNT(*) FROM sso_sessions") sessions ($expired ended)"
  row "$BACKEND" "$SIZE_LABEL" "back-channel logouts of that pass delivered (after it)" "$(echo "scale=0; $expired * 1000 / ($t_drain + 1)" | bc)" "$expired in $t_drain ms, one app each"
  row "$BACKEND" "$SIZE_LABEL" "RSS idle" "-" "$(rss_mib "$SERVER_PID") MiB"

  local jar="$DIR/jar" code access tokens="$DIR/tokens" codes="$DIR/codes" seeded="$DIR/seeded"
  rm -f "$jar"
  code=$(signin_code "$jar"); [ -n "$code" ] || die "the benchmark user cannot sign in"
  access=$(redeem "$code" | jq -r .access_token)
  : > "$tokens"
  for _ in $(seq 1 16); do redeem "$(new_code "$jar")" | jq -r .refresh_token >> "$tokens"; done
  : > "$codes"
  for _ in $(seq 1 2000); do new_code "$jar"; echo; done | grep . > "$codes"
  # 16 chains over seeded sessions spread through the table.
  local live; live=$(sql "SELECT COUNT(*) FROM sso_sessions WHERE id LIKE 'bench-s-%'")
  : > "$seeded"
  for k in $(seq 1 16); do
    local n=$(( (k * live / 17) | 1 )); [ $((n % 10)) -eq 0 ] && n=$((n + 1))
    echo "bench-rt-$n" >> "$seeded"
  done

  load "GET userinfo" -t2 -c32 -d"${DURATION}s" -H "Authorization: Bearer $access" "$BASE/userinfo" >/dev/null
  load "refresh grant (16 chains of one session)" -t16 -c16 -d"${DURATION}s" -s bench/refresh.lua "$BASE" -- "$tokens" >/dev/null
  load "refresh grant (16 chains of 16 seeded sessions across the table)" -t16 -c16 -d"${DURATION}s" -s bench/refresh.lua "$BASE" -- "$seeded" >/dev/null
  load "code grant (2,000 fresh codes)" -t8 -c8 -d"${DURATION}s" -s bench/codes.lua "$BASE" -- "$codes" 8 >/dev/null

  local out rate total fails c0 c1 out_of
  # Logouts (confirmation page, then the form): each ends one session with a grant for demo,
  # seeded now (and ended by the load) so the other measurements see the sessions of their size.
  seed_logouts $((DURATION * 5000 + 5000))
  pgss_reset
  c0=$(cpu_ticks "$SERVER_PID")
  out=$(wrk -t8 -c8 -d"${DURATION}s" -s bench/logout.lua "$BASE" -- "$DIR/logouts" 8 2>/dev/null)
  c1=$(cpu_ticks "$SERVER_PID")
  read -r _ total rate fails out_of <<< "$(echo "$out" | grep '^LOGOUTS')"
  [ "${fails:-1}" = 0 ] && [ "${out_of:-1}" = 0 ] || die "logouts failed or ran out of sessions: $out"
  drained $((expired + total))
  row "$BACKEND" "$SIZE_LABEL" "logout (confirmation page and form; 8 connections)" "$rate" "$total logouts; provider CPU $(echo "scale=0; ($c1 - $c0) * 1000000 / $(getconf CLK_TCK) / $total" | bc) µs/logout (2 requests; the back-channel deliveries it queues run meanwhile)"
  pgss_cost "logout (2 requests, and delivering its back-channel logout)" "$total"

  pgss_reset
  c0=$(cpu_ticks "$SERVER_PID")
  out=$(wrk -t8 -c8 -d"${DURATION}s" -s bench/signin.lua "$BASE" -- 8 2>/dev/null)
  c1=$(cpu_ticks "$SERVER_PID")
  read -r _ total rate fails <<< "$(echo "$out" | grep '^SIGNINS')"
  [ "${fails:-1}" = 0 ] || die "password sign-ins failed: $out"
  row "$BACKEND" "$SIZE_LABEL" "full password sign-in (authorize, page, form, token; 8 connections)" "$rate" "$total sign-ins; provider CPU $(echo "scale=1; ($c1 - $c0) * 1000 / $(getconf CLK_TCK) / $total" | bc) ms/sign-in (argon2 included)"
  pgss_cost "full password sign-in (4 requests)" "$total"

  # The lists: a page of an account's users, one user by email, a page of an account's audit.
  local admin
  admin=$(curl -s -u "helpdesk:$HELPDESK_SECRET" -d grant_type=client_credentials "$BASE/token" | jq -r .access_token)
  local t_cli t_by_email t_page t_audit t_sessions
  t_cli=$(timed_ms "$BIN" --config "$CONF" user list --account acct5)
  t_sessions=$(timed_ms "$BIN" --config "$CONF" session list --email u5@acme.example)
  t_by_email=$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $admin" "$BASE/admin/v1/users?email=U500@ACME.example")
  t_page=$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $admin" "$BASE/admin/v1/users?account=acct5")
  t_audit=$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $admin" "$BASE/admin/v1/audit?account=acct5")
  row "$BACKEND" "$SIZE_LABEL" "lists: CLI user list (account) / CLI session list / API user by email / API users page / API audit page" "-" "$t_cli ms / $t_sessions ms (both include process start) / $(echo "$t_by_email * 1000 / 1" | bc) ms / $(echo "$t_page * 1000 / 1" | bc) ms / $(echo "$t_audit * 1000 / 1" | bc) ms"
  local rss_now; rss_now=$(rss_mib "$SERVER_PID")
  # The hashing threads keep their argon2 working memory (19 MiB each) for 2 s after their last hash.
  sleep 3
  row "$BACKEND" "$SIZE_LABEL" "RSS after the loads: at once / 3 s later" "-" "$rss_now MiB / $(rss_mib "$SERVER_PID") MiB"
  stop_server
}

explain() { # the hot queries, at the big size
  local label=$1 q=$2 plan
  if [ "$KIND" = sqlite ]; then
    plan=$(sqlite3 "$DIR/idp.db" "EXPLAIN QUERY PLAN $q" | grep -v '^QUERY PLAN' | sed 's/^[|`-]*//' | tr '\n' ';' | sed 's/;/; /g')
  else
    plan=$(psql -qAt "$DB_URL" -c "EXPLAIN $q" | tr '\n' ';' | sed 's/  */ /g')
  fi
  plan=${plan%; }; echo "| $BACKEND | $label | ${plan%;} |" >> "$EXPLAINS"
}

run_backend() {
  BACKEND=$1 KIND=$2
  DIR=$(mktemp -d -p "$WORK")
  CONF="$DIR/idp.toml"
  if [ "$KIND" = sqlite ]; then DB_URL="sqlite://$DIR/idp.db"; else DB_URL=$(fresh_pg_db "idp_scale_$$"); fi
  write_config "$DB_URL" "$(free_port)"
  sed -i "/^client_id = \"demo\"/a backchannel_logout_uri = \"http://127.0.0.1:$SINK_PORT/backchannel\"" "$CONF"
  cat >> "$CONF" <<EOF

[[clients]]
client_id = "helpdesk"
name = "Help desk"
secret_sha256 = "$(printf %s "$HELPDESK_SECRET" | sha256sum | cut -d' ' -f1)"
grant_types = ["client_credentials"]
scopes = ["admin:read"]

[admin]
calls_per_minute = 100000

# Every sign-in of the loads comes from 127.0.0.1 (8 s at ~130 a second is close to the default
# 1,200 a minute for one address).
[server]
sign_ins_per_minute = 100000
EOF
  "$BIN" --config "$CONF" migrate >/dev/null
  if [ "$KIND" = postgres ]; then
    if psql -qAt "$DB_URL" -c "SHOW shared_preload_libraries" | grep -q pg_stat_statements; then
      psql -q "$DB_URL" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"; PGSS=yes
    else
      log "pg_stat_statements is not loaded: no database costs (ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', then restart PostgreSQL)"
      PGSS=no
    fi
  fi
  # One real argon2id hash of the benchmark password, at the configured parameters.
  "$BIN" --config "$CONF" account create acme --name Acme >/dev/null
  printf '%s\n' "$PW" | "$BIN" --config "$CONF" user create --account acme --email seed@acme.example --password-stdin >/dev/null
  HASH=$(sql "SELECT password_hash FROM users WHERE email = 'seed@acme.example'")
  enable_mfa() { for k in $(seq "$1" "$2"); do "$BIN" --config "$CONF" mfa enable --account "acct$k" >/dev/null; done; }

  log "$BACKEND: $SMALL users"
  SIZE_LABEL="$SMALL users"
  users_jsonl 1 "$SMALL" | "$BIN" --config "$CONF" import --file - --all-accounts --create-accounts >/dev/null
  enable_mfa 667 999
  seed_sessions 1 100
  measure

  log "$BACKEND: $BIG users (importing)"
  SIZE_LABEL="$BIG users"
  local t0; t0=$(date +%s)
  users_jsonl $((SMALL + 1)) "$BIG" | "$BIN" --config "$CONF" import --file - --all-accounts >/dev/null
  local t_import=$(( $(date +%s) - t0 ))
  t0=$(date +%s)
  seed_sessions 101 100000
  # The database a restarted provider meets has been running: PostgreSQL's autovacuum has
  # vacuumed and analyzed the grown tables and a checkpoint has written the seeding's pages. Do
  # both now, so the plans are those of such a database and the first pass below measures the
  # sweeper rather than autovacuum and the checkpointer working through a million fresh rows
  # beside it (they did: the pass took 1.7 s with them, see docs/performance.md). SQLite has no
  # statistics unless ANALYZE is run, and the provider never runs it; its WAL is folded in.
  if [ "$KIND" = postgres ]; then
    psql -q "$DB_URL" -c "VACUUM (ANALYZE)" -c "CHECKPOINT"
  else
    sql "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
  fi
  log "$BACKEND: seeded in $(( $(date +%s) - t0 )) s (import $t_import s)"
  # The sessions left ended by the first measurement stay, as they would until the purge.
  measure
  row "$BACKEND" "$SIZE_LABEL" "seeding" "-" "import of $((BIG - SMALL)) users $t_import s (streamed from stdin); sessions, grants, refresh tokens and audit events by SQL"

  local now; now=$(date +%s)
  local uid; uid=$(sql "SELECT id FROM users WHERE email = 'u500@acme.example'")
  explain "user by email (sign-in)" "SELECT * FROM users WHERE email = 'u500@acme.example'"
  explain "session by cookie" "SELECT * FROM sso_sessions WHERE secret_hash = 'bench-h-5'"
  explain "refresh token" "SELECT * FROM refresh_tokens WHERE token_hash = 'x'"
  explain "grants of a session" "SELECT * FROM grants WHERE session_id = 'bench-s-5'"
  explain "sweeper: due sessions" "SELECT id, expires_at FROM sso_sessions WHERE ended_at IS NULL AND idle_expires_at <= $now ORDER BY idle_expires_at LIMIT 500"
  explain "purge: ended sessions" "DELETE FROM sso_sessions WHERE ended_at < $now - 86400"
  explain "purge: unended, past their deadline" "DELETE FROM sso_sessions WHERE ended_at IS NULL AND idle_expires_at < $now - 86400"
  explain "a user's live sessions" "SELECT * FROM sso_sessions WHERE user_id = '$uid' AND ended_at IS NULL AND idle_expires_at > $now ORDER BY created_at DESC"
  explain "API users page (account)" "SELECT * FROM users WHERE account_id = (SELECT id FROM accounts WHERE slug = 'acct5') AND id > '' ORDER BY id LIMIT 51"
  explain "API audit page (account)" "SELECT * FROM audit_events WHERE account_id = (SELECT id FROM accounts WHERE slug = 'acct5') ORDER BY id DESC LIMIT 51"
  explain "API audit page (user)" "SELECT * FROM audit_events WHERE user_id = '$uid' ORDER BY id DESC LIMIT 51"
  explain "MFA overview (account)" "SELECT u.id, t.linked FROM users u LEFT JOIN totp_credentials t ON t.user_id = u.id WHERE u.account_id = (SELECT id FROM accounts WHERE slug = 'acct700')"
  if [ "$KIND" = postgres ]; then drop_pg_db "idp_scale_$$"; fi
}

# BENCH_BACKENDS="sqlite" or "postgres" runs one of them (default: both).
for b in ${BENCH_BACKENDS:-sqlite postgres}; do
  if [ "$b" = postgres ] && ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "PostgreSQL not reachable: skipped"; continue
  fi
  run_backend "$b" "$b"
done

{
  echo "<!-- generated by bench/scale.sh; see docs/performance.md -->"
  echo "Machine: $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); date: $(date -u +%Y-%m-%d); ${DURATION}s per load."
  echo "Load (/proc/loadavg) before: $LOAD_BEFORE; after: $(cat /proc/loadavg) (the machine may be shared: compare rows within one run)."
  echo
  echo "| backend | size | measurement | req/s | notes |"
  echo "|---|---|---|---|---|"
  cat "$RESULTS"
  if [ -s "$COSTS" ]; then
    echo
    echo "PostgreSQL cost per operation (pg_stat_statements over the load; statements include BEGIN/COMMIT):"
    echo
    echo "| size | operation | statements per operation | database time per operation |"
    echo "|---|---|---|---|"
    cat "$COSTS"
  fi
  if [ -s "$SWEEP" ]; then
    echo
    echo "PostgreSQL: the costliest statements of start-up and the sweeper's first pass:"
    echo
    echo "| size | calls | total time | statement |"
    echo "|---|---|---|---|"
    cat "$SWEEP"
  fi
  echo
  echo "Query plans at $BIG users:"
  echo
  echo "| backend | query | plan |"
  echo "|---|---|---|"
  cat "$EXPLAINS"
} > bench/scale-results.md
cat bench/scale-results.md
