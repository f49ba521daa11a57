-- wrk script: rotating refresh. Each thread holds a queue of live refresh tokens (its share of
-- $BENCH_INPUT, one a line); each request takes one, and a 200 answer's new refresh_token goes
-- back in, so every token is used exactly once. done() prints the tokens left, for the next run.
local common = dofile(os.getenv('BENCH_LUA_DIR') .. '/common.lua')
-- Globals, so that setup() and done() reach them through thread:set/get.
non2xx = 0
queue, head, tail = {}, 1, 0

local seeded -- main state only: the whole pool, read once
function setup(thread)
  seeded = seeded or common.lines(os.getenv('BENCH_INPUT'))
  local threads = tonumber(os.getenv('BENCH_THREADS'))
  local k = common.setup(thread)
  local mine = {}
  for i = k + 1, #seeded, threads do mine[#mine + 1] = seeded[i] end
  thread:set('queue', mine)
  thread:set('tail', #mine)
end

local function encode(s)
  return (s:gsub('[^%w%-%._~]', function(c) return string.format('%%%02X', c:byte()) end))
end

-- wrk calls request() once on thread 0 before the threads start, only to parse what it returns
-- (wrk.c: script_verify_request). That request is never sent, so it must not spend a token.
local checked = false
function request()
  local token = queue[head]
  if id == 0 and not checked then
    checked = true
  elseif token then
    queue[head] = nil
    head = head + 1
  end
  -- An empty queue (a broken chain) still needs a request: it is answered 400 and counted.
  return wrk.format('POST', nil, nil, 'refresh_token=' .. encode(token or 'pool-exhausted'))
end

function response(status, headers, body)
  local token = status == 200 and body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then
    tail = tail + 1
    queue[tail] = token
  else
    non2xx = non2xx + 1
  end
end

function done(summary, latency)
  common.done(summary, latency, {
    counted = true,
    pool = function(threads)
      local left = {}
      for _, t in ipairs(threads) do
        local q = t:get('queue')
        for i = t:get('head'), t:get('tail') do left[#left + 1] = q[i] end
      end
      return left
    end,
  })
end
