-- wrk script: fire `extend` on many cases in turn, each request with its own Idempotency-Key (unique across
-- runs on one database: BENCH_RUN differs per run, so no request is a replay of an earlier run's).
local token = os.getenv("BENCH_TOKEN")
local run = os.getenv("BENCH_RUN") or ""
local first = tonumber(os.getenv("BENCH_FIRST_ID"))
local cases = tonumber(os.getenv("BENCH_CASES"))
local path = os.getenv("BENCH_PATH") or "fire"
local threads = 0
local counter = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function request()
  counter = counter + 1
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  if path == "fire" then
    local id = first + ((counter * 97 + tid * 7919) % cases)
    headers["Idempotency-Key"] = "bench-" .. run .. "-" .. tid .. "-" .. counter
    return wrk.format("POST", "/api/v1/cases/" .. id .. "/events/extend", headers,
                      '{"data": {"parties_consent": true, "days": 10}}')
  end
  if path == "case" then
    local id = first + ((counter * 97 + tid * 7919) % cases)
    return wrk.format("GET", "/api/v1/cases/" .. id, headers)
  end
  return wrk.format("GET", path, headers)
end
