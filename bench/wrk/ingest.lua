-- wrk load for Seam ingest: every request carries fresh, unique messageIds.
--
--   wrk -s ingest.lua URL -- MODE PREFIX AUTHORIZATION POOL [BATCH_SIZE]
--
-- MODE is "track" (POST /v1/track, one message) or "batch" (POST /v1/batch, BATCH_SIZE
-- messages). messageIds are PREFIX-<random>-<thread>-<n>[-<i>]; anonymousIds come from a pool
-- of POOL ids. done() prints one line "BENCH_JSON {...}" with totals, latency and status counts.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  mode = args[1]
  prefix = args[2]
  pool = tonumber(args[4])
  batch_size = tonumber(args[5] or "100")
  counter = 0
  math.randomseed(os.time() * 100 + tid)
  counts = {}
  path = (mode == "batch") and "/v1/batch" or "/v1/track"
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = args[3] }
end

local function message(id, n)
  return string.format(
    '{"type":"track","event":"Bench Event","messageId":"%s","anonymousId":"%s-anon-%d",'
      .. '"properties":{"plan":"pro","value":%d,"path":"/pricing"},'
      .. '"context":{"library":{"name":"wrk-bench","version":"1.0"},'
      .. '"userAgent":"Mozilla/5.0 (X11; Linux x86_64) bench","locale":"en-US"}}',
    id, prefix, n % pool, n)
end

-- Random after the prefix, like the SDKs' UUIDs (and the raw ceiling's ids): each id lands at a
-- random place in the unique index instead of appending to its end.
local function message_id(suffix)
  return string.format("%s-%08x%08x-%d-%d%s", prefix, math.random(0, 0x7fffffff),
    math.random(0, 0x7fffffff), tid, counter, suffix)
end

function request()
  counter = counter + 1
  local body
  if mode == "batch" then
    local parts = {}
    for i = 1, batch_size do
      parts[i] = message(message_id("-" .. i), counter * batch_size + i + tid)
    end
    body = '{"batch":[' .. table.concat(parts, ",") .. ']}'
  else
    body = message(message_id(""), counter + tid * 7919)
  end
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for status, n in pairs(c) do
      total[status] = (total[status] or 0) + n
    end
  end
  local statuses = {}
  for status, n in pairs(total) do
    table.insert(statuses, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p99":%d,"max":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max,
    table.concat(statuses, ",")))
end
