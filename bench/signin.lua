-- Full password sign-ins with wrk: each connection loops authorize -> sign-in page -> password
-- form -> token, like a browser plus its app would (one argon2 verification per loop).
-- Usage: wrk -t N -c N -s bench/signin.lua URL -- USERS [forwarded]
--   (users u1..uUSERS@acme.example; with "forwarded", each connection is a browser at its own
--   address, 10.0.x.y in X-Forwarded-For, for a provider that trusts 127.0.0.1 as its proxy)
-- Counts completed sign-ins (token endpoint answered 200) and failures per step.

local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local step, flow, csrf, code
signins, failures = 0, 0 -- globals, read by done() through thread:get
local email, basic, browser
local cb = "http%3A%2F%2F127.0.0.1%3A8081%2Fcallback"
local pw = "correct+horse+battery+staple"

function init(args)
  local users = tonumber(args[1] or "8")
  email = "u" .. ((id - 1) % users + 1) .. "%40acme.example"
  basic = os.getenv("BENCH_BASIC")
  browser = {}
  if args[2] == "forwarded" then
    browser["X-Forwarded-For"] = string.format("10.0.%d.%d", math.floor(id / 256), id % 256)
  end
  step = 1
end

function request()
  if step == 1 then
    return wrk.format("GET", "/authorize?client_id=demo&redirect_uri=" .. cb .. "&response_type=code&scope=openid&state=s&code_challenge_method=S256&code_challenge=nNXSXIAPh_gvnj1fakhR9r29EIkizMk0nlEpUHWvF7c", browser)
  elseif step == 2 then
    return wrk.format("GET", "/login", { ["Cookie"] = "idp_flow=" .. flow, ["X-Forwarded-For"] = browser["X-Forwarded-For"] })
  elseif step == 3 then
    return wrk.format("POST", "/login/password", {
      ["Cookie"] = "idp_flow=" .. flow,
      ["X-Forwarded-For"] = browser["X-Forwarded-For"],
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "csrf=" .. csrf .. "&email=" .. email .. "&password=" .. pw)
  else
    return wrk.format("POST", "/token", {
      ["Authorization"] = "Basic " .. basic,
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "grant_type=authorization_code&code_verifier=bench-pkce-verifier-0123456789abcdefghijklmnopqrstuvwxyz&code=" .. code .. "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback")
  end
end

local function restart()
  failures = failures + 1
  step = 1
end

function response(status, headers, body)
  if step == 1 then
    local c = headers["set-cookie"] or headers["Set-Cookie"] or ""
    flow = c:match("idp_flow=([^;]+)")
    if status == 303 and flow then step = 2 else restart() end
  elseif step == 2 then
    csrf = body:match('name="csrf" value="([^"]+)"')
    if status == 200 and csrf then step = 3 else restart() end
  elseif step == 3 then
    local loc = headers["location"] or headers["Location"] or ""
    code = loc:match("[?&]code=([^&]+)")
    if status == 303 and code then step = 4 else restart() end
  else
    if status == 200 then signins = signins + 1 else failures = failures + 1 end
    step = 1
  end
end

function done(summary, latency, requests)
  local total, fails = 0, 0
  for _, t in ipairs(threads) do
    total = total + (t:get("signins") or 0)
    fails = fails + (t:get("failures") or 0)
  end
  local secs = summary.duration / 1e6
  io.write(string.format("SIGNINS %d %.1f %d\n", total, total / secs, fails))
end
