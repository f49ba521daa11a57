// autocannon worker module (the fallback when wrk is missing): rotating refresh. `setupRequest`
// takes a live refresh token from this worker's queue; `onResponse` (autocannon-rotate-response.cjs)
// puts a 200 answer's new one back, so every token is used exactly once. Worker threads share no
// memory: each claims one slice file of the pool in request.poolDir (rename is atomic, so no two
// take the same), and writes the tokens it has left to slice-K.left when the thread exits.
const { readdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const markStart = require('./autocannon-start.cjs');

let queue;

function claim(dir) {
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.txt'))) {
    const taken = join(dir, name.replace(/\.txt$/, '.taken'));
    try {
      renameSync(join(dir, name), taken);
    } catch {
      continue; // another worker was first
    }
    const tokens = readFileSync(taken, 'utf8').split('\n').filter(Boolean);
    process.on('exit', () => writeFileSync(taken.replace(/\.taken$/, '.left'), tokens.join('\n')));
    return tokens;
  }
  throw new Error(`no pool slice left in ${dir}`);
}

module.exports = function setupRequest(request) {
  markStart(request.startDir);
  queue ??= claim(request.poolDir);
  // An empty queue (a broken chain) still needs a request: it is answered 400 and counted.
  const token = queue.shift() ?? 'pool-exhausted';
  return { ...request, body: new URLSearchParams({ refresh_token: token }).toString() };
};

module.exports.onResponse = function onResponse(status, body) {
  if (status === 200) queue.push(JSON.parse(body).refresh_token);
};
