-- One wrk script for every load of bench/compare-etcd.sh, so both systems get requests built
-- the same way. Usage: wrk ... -s bench/wrk/kv.lua URL -- MODE [READ_KEYS]
--   concord-put             PUT /v1/kv/bench/w/<16 random chars>, 100-byte random value
--   concord-get-consistent  GET /v1/kv/bench/r/<8 digits>?consistent (a preloaded key)
--   concord-get-stale       GET /v1/kv/bench/r/<8 digits>?stale
--   etcd-put                POST /v3/kv/put, random 16-char base64 key, 100-byte value
--   etcd-range              POST /v3/kv/range of a preloaded key (linearizable, etcd's default)
--   etcd-range-serializable the same with "serializable": true
-- done() prints one line `WRKJSON {...}` that bench/tools.py parses (no scraping of wrk's text).

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local ALNUM_COUNT = 62 -- the first 62 characters of B64: safe in a URL path without escaping

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

-- n random characters among the first `alphabet_size` of B64.
local function random_chars(n, alphabet_size)
  local t = {}
  for i = 1, n do
    local r = math.random(1, alphabet_size)
    t[i] = B64:sub(r, r)
  end
  return table.concat(t)
end

-- A random base64 text decoding to exactly 100 bytes: 132 characters are 99 bytes, and "QQ=="
-- is one more byte ('A'). Any string of length divisible by 4 over B64 is valid base64, which
-- spares a base64 encoder here.
local function etcd_value_100_bytes()
  return random_chars(132, 64) .. "QQ=="
end

local mode
local build
local read_keys = 10000
local builders = {}

builders["concord-put"] = function()
  return wrk.format("PUT", "/v1/kv/bench/w/" .. random_chars(16, ALNUM_COUNT), nil,
    random_chars(100, ALNUM_COUNT))
end

local function concord_get(query)
  local key = string.format("bench/r/%08d", math.random(0, read_keys - 1))
  return wrk.format("GET", "/v1/kv/" .. key .. query)
end
builders["concord-get-consistent"] = function() return concord_get("?consistent") end
builders["concord-get-stale"] = function() return concord_get("?stale") end

builders["etcd-put"] = function()
  local body = '{"key":"' .. random_chars(16, 64) .. '","value":"' .. etcd_value_100_bytes() .. '"}'
  return wrk.format("POST", "/v3/kv/put", nil, body)
end

-- Preloaded etcd keys are the base64 texts "cmQv" .. 8 digits (digits are base64 characters, so
-- the text is valid and names a distinct 9-byte key "rd/...").
local function etcd_range(extra)
  local key = string.format("cmQv%08d", math.random(0, read_keys - 1))
  return wrk.format("POST", "/v3/kv/range", nil, '{"key":"' .. key .. '"' .. extra .. '}')
end
builders["etcd-range"] = function() return etcd_range("") end
builders["etcd-range-serializable"] = function() return etcd_range(',"serializable":true') end

function init(args)
  mode = args[1]
  if args[2] then read_keys = tonumber(args[2]) end
  if builders[mode] == nil then
    error("kv.lua: unknown mode '" .. tostring(mode) .. "'")
  end
  -- Each thread seeds its own generator: equal seeds would make threads write the same keys.
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  build = builders[mode]
end

-- Defined at load time (not in init): wrk decides from its main Lua state, where init never
-- runs, whether requests are dynamic.
function request()
  return build()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,' ..
    '"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
