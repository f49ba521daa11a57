// autocannon worker module (the fallback when wrk is missing): `setupRequest` for the cycling
// cases. Each worker thread loads it once and cycles through the bodies in request.bodiesFile
// (one a line, already form-encoded), starting at its own place in the list.
const { readFileSync } = require('node:fs');
const { threadId } = require('node:worker_threads');
const markStart = require('./autocannon-start.cjs');

let bodies;
let next = 0;

module.exports = function setupRequest(request) {
  markStart(request.startDir);
  if (!bodies) {
    bodies = readFileSync(request.bodiesFile, 'utf8').split('\n').filter(Boolean);
    next = threadId * 337;
  }
  // A GET sends no body (its "bodies" are placeholders that only count requests).
  if (request.method === 'GET') return request;
  return { ...request, body: bodies[next++ % bodies.length] };
};
