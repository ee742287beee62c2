-- wrk script for the code grant: every request redeems a fresh code from the file (codes are
-- single-use). Line i seeds thread i's share: threads take every N-th code.
local counter = 0
local threads = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  codes = {}
  local n = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % n == id - 1 then table.insert(codes, line) end
    i = i + 1
  end
  next_code = 1
  auth = "Basic " .. os.getenv("BENCH_BASIC")
end

function request()
  local code = codes[next_code] or "exhausted"
  next_code = next_code + 1
  return wrk.format("POST", "/token", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = auth,
  }, "grant_type=authorization_code&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback&code=" .. code)
end
