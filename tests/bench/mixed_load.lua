-- mixed_load.lua: wrk script for a mixed HKP load: of every 100
-- requests 95 are lookups (op=get by fingerprint, op=get by key ID and
-- op=index by e-mail, in turn), 4 are misses (op=get of an unknown
-- fingerprint) and 1 is an upload (POST /pks/add, keytext= a certificate).
--   wrk -tC -cC -d600s -s mixed_load.lua http://127.0.0.1:PORT -- \
--       FINGERPRINTS KEYIDS EMAILS MISSES UPLOADS C [PATHPREFIX]
-- FINGERPRINTS, KEYIDS, MISSES: one hex string a line; EMAILS: "KEYID address"
-- lines (as gen_certs --corpus-dir writes them); UPLOADS: one url-encoded
-- form body a line ("keytext=..."), e.g. written by scale_store.sh.
-- Run it with as many threads as connections (-t16 -c16): a thread with one
-- connection has one request in flight, so every answer is counted under the
-- kind of request it answers (lookup, miss, upload). With more connections
-- than threads the counts by kind would be guesses (scale_store.sh never
-- does that).
-- C, the number of threads, splits the lists: thread t keeps lines t, t+C,
-- t+2C, ... of each list (all of a list shorter than C), so the lists are in
-- memory once in all, and no certificate is uploaded by two threads before
-- the upload list wraps around. At the end one line
-- "RESULT {json}": requests/s, latency percentiles (µs), socket errors, the
-- status histogram, requests sent and answers by kind, and how many uploads
-- the server reported as new.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local nthreads = 1

-- This thread's share of a list: the lines whose number is tid modulo nthreads.
-- Two passes (count, then keep), so that no thread holds a whole list.
local function read_list(file, make)
  local count = 0
  for line in io.lines(file) do
    if line ~= "" then count = count + 1 end
  end
  if count == 0 then error("empty list " .. file) end
  local share = count >= nthreads
  local t, i = {}, 0
  for line in io.lines(file) do
    if line ~= "" then
      if not share or i % nthreads == (tid or 0) then t[#t + 1] = make(line) end
      i = i + 1
    end
  end
  return t
end

local lists = {}   -- kind -> array of prepared requests
local pos = { fpr = 1, keyid = 1, email = 1, miss = 1, upload = 1 }
local n = 0        -- requests made by this thread
local lookup_turn = 0
local last_kind = nil
sent = {}          -- kind -> requests sent (globals: read by done())
answers = {}       -- "kind status" -> count
upload_new = 0

function init(args)
  local fprs, keyids, emails, misses, uploads, c, prefix =
    args[1], args[2], args[3], args[4], args[5], args[6], args[7] or ""
  if not tonumber(c) then
    error("usage: -- FINGERPRINTS KEYIDS EMAILS MISSES UPLOADS THREADS [PATHPREFIX]")
  end
  nthreads = tonumber(c)
  local base = prefix .. "/pks/lookup?"
  local get = function(line) return wrk.format("GET", base .. "op=get&options=mr&search=0x" .. line) end
  lists.fpr = read_list(fprs, get)
  lists.keyid = read_list(keyids, get)
  lists.email = read_list(emails, function(line)
    local email = line:match("^%S+%s+(%S+)$") or line
    return wrk.format("GET", base .. "op=index&options=mr&search=" .. urlencode(email))
  end)
  lists.miss = read_list(misses, get)
  lists.upload = read_list(uploads, function(line)
    return wrk.format("POST", prefix .. "/pks/add",
      { ["Content-Type"] = "application/x-www-form-urlencoded" }, line)
  end)
end

local lookup_kinds = { "fpr", "keyid", "email" }

local function next_of(kind)
  local l = lists[kind]
  local r = l[pos[kind]]
  pos[kind] = pos[kind] % #l + 1
  return r
end

function request()
  -- the slot in a block of 100: 50 is an upload, 10, 30, 70 and 90 misses
  local slot = n % 100
  n = n + 1
  local kind, req
  if slot == 50 then
    kind, req = "upload", next_of("upload")
  elseif slot == 10 or slot == 30 or slot == 70 or slot == 90 then
    kind, req = "miss", next_of("miss")
  else
    local lk = lookup_kinds[lookup_turn % 3 + 1]
    lookup_turn = lookup_turn + 1
    kind, req = "lookup", next_of(lk)
  end
  sent[kind] = (sent[kind] or 0) + 1
  last_kind = kind
  return req
end

function response(status, headers, body)
  local k = (last_kind or "unknown") .. " " .. tostring(status)
  answers[k] = (answers[k] or 0) + 1
  if last_kind == "upload" and status == 200 and body and body:sub(1, 4) == "new " then
    upload_new = upload_new + 1
  end
end

local function json_map(t)
  local parts = {}
  for k, v in pairs(t) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
  table.sort(parts)
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency)
  local agg_sent, agg_ans, status, new = {}, {}, {}, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("sent")) do agg_sent[k] = (agg_sent[k] or 0) + v end
    for k, v in pairs(t:get("answers")) do
      agg_ans[k] = (agg_ans[k] or 0) + v
      local s = k:match(" (%d+)$")
      status[s] = (status[s] or 0) + v
    end
    new = new + t:get("upload_new")
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'RESULT {"requests":%d,"duration_s":%.3f,"rps":%.1f,' ..
    '"lat_us":{"mean":%.0f,"p50":%d,"p90":%d,"p99":%d,"max":%d},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"socket_errors":%d,"status":%s,"sent":%s,"answers":%s,"upload_new":%d}\n',
    summary.requests, secs, summary.requests / secs,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout,
    e.connect + e.read + e.write + e.timeout,
    json_map(status), json_map(agg_sent), json_map(agg_ans), new))
end
