# What bench/scale.sh and bench/concurrency.sh share (sourced, not run): the release binary,
# the demo app's credentials, the fixed PKCE pair, the benchmark password, and getting codes
# and tokens for the demo app from a browser's cookie jar ($BASE is the running provider).
BIN="$PWD/target/release/idp-server"
SECRET="demo-client-secret-change-me-0123456789"
export BENCH_BASIC=$(printf 'demo:%s' "$SECRET" | base64 -w0)
CB="http%3A%2F%2F127.0.0.1%3A8081%2Fcallback"
# PKCE (required of every app): one fixed pair for the benchmark's requests.
VERIFIER="bench-pkce-verifier-0123456789abcdefghijklmnopqrstuvwxyz"
PKCE="code_challenge_method=S256&code_challenge=nNXSXIAPh_gvnj1fakhR9r29EIkizMk0nlEpUHWvF7c"
PW="correct horse battery staple"
PG_BASE="${IDP_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

# Signs in to the demo app as $2 with a new cookie jar $1; prints the redirect to the app.
sign_in_jar() {
  local csrf
  curl -s -c "$1" -b "$1" -o /dev/null "$BASE/authorize?client_id=demo&redirect_uri=$CB&response_type=code&scope=openid%20email&state=s&$PKCE"
  csrf=$(curl -s -c "$1" -b "$1" "$BASE/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
  curl -s -c "$1" -b "$1" -o /dev/null -w '%{redirect_url}' --data-urlencode "csrf=$csrf" --data-urlencode "email=$2" --data-urlencode "password=$PW" "$BASE/login/password"
}
# A fresh code for the demo app from the signed-in browser whose cookie jar is $1.
new_code() {
  curl -s -b "$1" -o /dev/null -w '%{redirect_url}' "$BASE/authorize?client_id=demo&redirect_uri=$CB&response_type=code&scope=openid&state=s&$PKCE" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p'
}
# The token response for code $1.
redeem() {
  curl -s -u "demo:$SECRET" -d grant_type=authorization_code -d "code_verifier=$VERIFIER" -d "code=$1" -d "redirect_uri=http://127.0.0.1:8081/callback" "$BASE/token"
}
