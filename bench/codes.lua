-- wrk script for the code grant: every request redeems a fresh code from the file (codes are
-- single-use). Line i seeds thread i's share: threads take every N-th code. A thread stops once
-- its share is spent, so a fast server never gets codes that do not exist. wrk divides by the
-- whole -d duration even when its threads stopped early, so this script times the load itself
-- (monotonic clock, from the first request to the last thread's last response) and prints
-- "RATE <requests/s>", which bench/run.sh reports instead.
-- Usage: wrk -t N -c N -s bench/codes.lua URL -- FILE N [code|refresh]: with "refresh" the file
-- holds refresh tokens, each used once (the refresh grant touching as many sessions as lines).
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local function now()
  local t = ffi.new("bench_timespec")
  ffi.C.clock_gettime(CLOCK_MONOTONIC, t)
  return tonumber(t.tv_sec) + tonumber(t.tv_nsec) / 1e9
end

local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  codes = {}
  local n = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % n == id - 1 then table.insert(codes, line) end
    i = i + 1
  end
  kind = args[3] or "code"
  next_code = 1
  answered = 0
  auth = "Basic " .. os.getenv("BENCH_BASIC")
end

function request()
  if started == nil then started = now() end
  local code = codes[next_code] or "exhausted"
  next_code = next_code + 1
  return wrk.format("POST", "/token", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = auth,
  }, kind == "refresh" and ("grant_type=refresh_token&refresh_token=" .. code)
    or ("grant_type=authorization_code&code_verifier=bench-pkce-verifier-0123456789abcdefghijklmnopqrstuvwxyz&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback&code=" .. code))
end

function response(status, headers, body)
  answered = answered + 1
  finished = now()
  if next_code > #codes then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local first, last, total = nil, nil, 0
  for _, t in ipairs(threads) do
    local s, f = t:get("started"), t:get("finished")
    if s ~= nil and (first == nil or s < first) then first = s end
    if f ~= nil and (last == nil or f > last) then last = f end
    total = total + (t:get("answered") or 0)
  end
  if first ~= nil and last ~= nil and last > first then
    print(string.format("RATE %.2f", total / (last - first)))
  end
end
