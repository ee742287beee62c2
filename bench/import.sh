#!/usr/bin/env bash
# The import benchmark (issue: 100,000 users in under a minute on 2 cores): builds in release,
# writes a JSON Lines file of N users (Django PBKDF2 hashes of 20,000 rounds, within what the
# import accepts at the default argon2 parameters; a third with an authenticator secret; 50
# accounts) and times `idp-server import` into a fresh SQLite file and a fresh
# PostgreSQL database, then a second run (every line skipped).
# Usage: bench/import.sh [users, default 100000]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
cargo build --release --locked -p idp-server >&2
BIN="$PWD/target/release/idp-server"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 - "$N" "$WORK/users.jsonl" <<'PY'
import base64, hashlib, json, sys
n, path = int(sys.argv[1]), sys.argv[2]
secret = base64.b32encode(bytes(range(20))).decode()
with open(path, "w") as f:
    for i in range(n):
        digest = base64.b64encode(hashlib.sha256(str(i).encode()).digest()).decode()
        rec = {"account": f"acct{i % 50}", "email": f"user{i}@example.com", "name": f"User {i}",
               "work_email": f"u{i}@work.example", "status": "active", "email_verified": True,
               "password_hash": f"pbkdf2_sha256$20000$salt{i}${digest}"}
        if i % 3 == 0:
            rec["totp_secret"] = secret
        f.write(json.dumps(rec) + "\n")
PY
config() {
  sed "s#^database_url = .*#database_url = \"$1\"#; s#^key_dir = .*#key_dir = \"$WORK/keys\"#" config/idp.toml > "$WORK/idp.toml"
}
run() {
  local label=$1 start end
  start=$(date +%s.%N)
  "$BIN" --config "$WORK/idp.toml" import --file "$WORK/users.jsonl" --all-accounts --create-accounts >/dev/null
  end=$(date +%s.%N)
  printf '%-32s %6.1f s\n' "$label" "$(echo "$end - $start" | bc)"
}
echo "$N users, $(nproc) cores"
config "sqlite://$WORK/idp.db"
run "SQLite, fresh"
run "SQLite, again (all skipped)"
if command -v psql >/dev/null && pg_isready -q -h 127.0.0.1; then
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS idp_import_bench" -c "CREATE DATABASE idp_import_bench"
  config "postgres://postgres@127.0.0.1:5432/idp_import_bench"
  run "PostgreSQL (TCP), fresh"
  run "PostgreSQL (TCP), again"
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE idp_import_bench"
fi
