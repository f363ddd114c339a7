-- paths.lua: wrk script that rotates through a list of requests.
--   wrk -t2 -c32 -d10s -s paths.lua http://127.0.0.1:PORT -- LISTFILE
-- Each line of LISTFILE is "HOST PATH": the Host header and the path (WKD
-- answers depend on the Host). Every thread starts at a different offset.
-- Prints one line "RESULT {json}" with requests/s, latency percentiles (µs),
-- socket errors and the status histogram.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs = {}
local pos = 1
status_counts = {}

function init(args)
  for line in io.lines(args[1]) do
    local host, path = line:match("^(%S+)%s+(%S+)$")
    if host then
      local headers = { Host = host }
      -- KEYDIR_LOG_PROOF=1: every request asks for the transparency log's proofs.
      if os.getenv("KEYDIR_LOG_PROOF") == "1" then headers["Keydir-Log-Proof"] = "1" end
      reqs[#reqs + 1] = wrk.format("GET", path, headers)
    end
  end
  if #reqs == 0 then error("empty list " .. args[1]) end
  pos = ((tid or 0) * 7919) % #reqs + 1
end

function request()
  local r = reqs[pos]
  pos = pos % #reqs + 1
  return r
end

function response(status)
  local k = tostring(status)
  status_counts[k] = (status_counts[k] or 0) + 1
end

function done(summary, latency)
  local agg = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("status_counts")) do agg[k] = (agg[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(agg) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
  table.sort(parts)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'RESULT {"rps":%.1f,"p50_us":%d,"p99_us":%d,"socket_errors":%d,"status":{%s}}\n',
    summary.requests / secs, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, table.concat(parts, ",")))
end
