-- Logouts with wrk: each connection takes the next unused session from a file of session cookie
-- secrets and logs it out the way a browser does without an id_token_hint: GET /end_session
-- (the confirmation page and its CSRF token), then POST /end_session with the token (the session
-- ends, its grants are revoked, a back-channel logout is queued for each app listening).
-- Usage: wrk -t N -c N -s bench/logout.lua URL -- SECRETS_FILE N   (N: the -t given to wrk)
-- Prints "LOGOUTS <done> <per second> <failed> <exhausted>"; a thread that runs out of sessions
-- stops sending (exhausted counts them: the file was too short for the load).

local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local secrets = {}
local next_index, nthreads, step, secret, csrf
logouts, failures, exhausted = 0, 0, 0 -- globals, read by done() through thread:get

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then table.insert(secrets, line) end
  end
  -- Thread k takes sessions k, k + N, k + 2N... so no two threads share one.
  nthreads = tonumber(args[2] or "1")
  next_index = id
  step = 1
end

function request()
  if step == 1 then
    secret = secrets[next_index]
    if secret == nil then
      exhausted = 1
      wrk.thread:stop()
      return wrk.format("GET", "/healthz")
    end
    next_index = next_index + nthreads
    return wrk.format("GET", "/end_session", { ["Cookie"] = "idp_session=" .. secret })
  else
    return wrk.format("POST", "/end_session", {
      ["Cookie"] = "idp_session=" .. secret,
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "csrf=" .. csrf)
  end
end

function response(status, headers, body)
  if exhausted == 1 then return end
  if step == 1 then
    csrf = body:match('name="csrf" value="([^"]+)"')
    if status == 200 and csrf then step = 2 else failures = failures + 1 end
  else
    if status == 200 and body:find("signed out", 1, true) then
      logouts = logouts + 1
    else
      failures = failures + 1
    end
    step = 1
  end
end

function done(summary, latency, requests)
  local total, fails, out = 0, 0, 0
  for _, t in ipairs(threads) do
    total = total + (t:get("logouts") or 0)
    fails = fails + (t:get("failures") or 0)
    out = out + (t:get("exhausted") or 0)
  end
  local secs = summary.duration / 1e6
  io.write(string.format("LOGOUTS %d %.1f %d %d\n", total, total / secs, fails, out))
end
