-- wrk script for the refresh grant with rotation: run with -t N -c N (one connection per
-- thread), so each thread keeps its own refresh-token chain. Line i of the token file seeds
-- thread i; every response's new refresh token replaces the one just used.
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  local i = 0
  for line in io.lines(args[1]) do
    i = i + 1
    if i == id then token = line end
  end
  auth = "Basic " .. os.getenv("BENCH_BASIC")
end

function request()
  return wrk.format("POST", "/token", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = auth,
  }, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local t = body:match('"refresh_token":"([^"]+)"')
  if t then token = t end
end
