-- wrk script used by bench/run.sh: POSTs a JSON body with a bearer token, counts every
-- response that is not 2xx (by status), and prints one machine-readable summary line.
--
--   BENCH_TOKEN      bearer token
--   BENCH_BODY_FILE  file holding the request body (default: the JSON value null)
--   BENCH_PATHS_FILE optional: a file with one URL path per line; each thread then sends its
--                    requests to those paths in turn (round robin) instead of the URL's path
--
-- wrk itself counts only statuses >= 400 (and socket errors); a response() hook is needed
-- to see every non-2xx status. Each wrk thread has its own Lua state, so the counters are
-- per thread and done() adds them up through the thread handles kept by setup().

local token = os.getenv("BENCH_TOKEN") or ""
local body_file = os.getenv("BENCH_BODY_FILE")
local body = "null"
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  body = f:read("*a")
  f:close()
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

local paths = {}
local paths_file = os.getenv("BENCH_PATHS_FILE")
if paths_file and paths_file ~= "" then
  for line in io.lines(paths_file) do
    if line ~= "" then table.insert(paths, line) end
  end
  assert(#paths > 0, "BENCH_PATHS_FILE lists no path")
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  statuses = {}
  if #paths > 0 then
    -- every request formatted once; request() only picks the next one
    reqs = {}
    for i, p in ipairs(paths) do
      reqs[i] = wrk.format(wrk.method, p, wrk.headers, wrk.body)
    end
    next_req = 0
  end
end

if #paths > 0 then
  function request()
    next_req = next_req % #reqs + 1
    return reqs[next_req]
  end
end

function response(status, headers, resp_body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad, by = 0, {}
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    local s = t:get("statuses") or {}
    for k, v in pairs(s) do by[k] = (by[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(by) do table.insert(parts, k .. ":" .. v) end
  table.sort(parts)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f rps=%.2f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f " ..
    "max_ms=%.3f non2xx=%d statuses=%s connect_errors=%d read_errors=%d write_errors=%d " ..
    "timeouts=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    bad, (#parts > 0) and table.concat(parts, ",") or "-",
    e.connect, e.read, e.write, e.timeout))
end
