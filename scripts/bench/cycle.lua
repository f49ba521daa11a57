-- wrk script: POST to the URL's path, cycling through the bodies in $BENCH_INPUT (one a line,
-- already form-encoded); the headers come from wrk's -H. With BENCH_METHOD=GET: GET the URL, no body
-- (the input's lines are then placeholders).
-- No response() hook: defining one makes wrk copy every answer's headers and body into Lua, which
-- cost ~20% more generator CPU per request on the bare route. Failed answers are counted by wrk
-- itself (summary.errors.status: status >= 400; none of these endpoints redirects).
local common = dofile(os.getenv('BENCH_LUA_DIR') .. '/common.lua')
local requests, n, i = {}, 0, 0

function setup(thread)
  common.setup(thread)
end

function init()
  local method = os.getenv('BENCH_METHOD') or 'POST'
  for k, body in ipairs(common.lines(os.getenv('BENCH_INPUT'))) do
    requests[k] = wrk.format(method, nil, nil, method ~= 'GET' and body or nil)
  end
  n = #requests
  -- Threads start at different places in the list, so that they do not send the same token at once.
  i = id * math.floor(n / tonumber(os.getenv('BENCH_THREADS')))
end

function request()
  i = i % n + 1
  return requests[i]
end

function done(summary, latency)
  common.done(summary, latency)
end
