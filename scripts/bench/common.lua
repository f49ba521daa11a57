-- Shared by the wrk scripts (loaded with dofile in every Lua state wrk makes: the main one, which
-- runs setup() and done(), and one per thread). Inputs come from the environment because the main
-- state never sees wrk's script arguments.
local M = {}

-- One entry per line of the file the bench wrote.
function M.lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= '' then out[#out + 1] = line end
  end
  return out
end

-- Main state: remember each thread so that done() can read its counters.
local threads = {}
function M.setup(thread)
  thread:set('id', #threads)
  threads[#threads + 1] = thread
  return #threads - 1
end

-- utime + stime of this whole process (every thread), in clock ticks. Read in done(), after
-- wrk has joined its threads: nothing the load generation cost is missed.
local function cpu_ticks()
  local f = io.open('/proc/self/stat', 'r')
  if not f then return -1 end
  local stat = f:read('*a')
  f:close()
  local fields = {}
  -- Fields after the parenthesised command name start at field 3 (state).
  for v in stat:match('%) (.*)$'):gmatch('%S+') do fields[#fields + 1] = v end
  return tonumber(fields[12]) + tonumber(fields[13])
end

local function quote(s)
  return '"' .. (s:gsub('[%c"\\]', function(c) return string.format('\\u%04x', c:byte()) end)) .. '"'
end

-- One JSON line the bench parses. Non-2xx: the threads' own `non2xx` counters when the script
-- keeps them (opts.counted), else wrk's count of answers >= 400. `opts.pool(threads)` adds the
-- rotating script's tokens left.
function M.done(summary, latency, opts)
  opts = opts or {}
  local e = summary.errors
  local non2xx = e.status
  if opts.counted then
    non2xx = 0
    for _, t in ipairs(threads) do non2xx = non2xx + t:get('non2xx') end
  end
  local fields = {
    '"requests":' .. summary.requests,
    '"duration_us":' .. summary.duration,
    '"p50_us":' .. latency:percentile(50),
    '"p99_us":' .. latency:percentile(99),
    '"non2xx":' .. non2xx,
    '"socket_errors":' .. (e.connect + e.read + e.write + e.timeout),
    '"cpu_ticks":' .. cpu_ticks(),
  }
  if opts.pool then
    local items = {}
    for _, v in ipairs(opts.pool(threads)) do items[#items + 1] = quote(v) end
    fields[#fields + 1] = '"pool":[' .. table.concat(items, ',') .. ']'
  end
  io.write('BENCH_RESULT {' .. table.concat(fields, ',') .. '}\n')
end

return M
