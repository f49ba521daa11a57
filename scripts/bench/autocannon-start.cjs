// autocannon worker modules' shared helper: records, once per worker thread, when it built its
// first request and the process's CPU time then. The bench's measured window starts when the last
// worker started: starting a worker thread (it loads tsx like its parent) is not load generation.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { threadId } = require('node:worker_threads');

let marked = false;

module.exports = function markStart(dir) {
  if (marked) return;
  marked = true;
  const cpu = process.cpuUsage();
  const at = performance.timeOrigin + performance.now();
  writeFileSync(join(dir, `start-${threadId}.json`), JSON.stringify({ at, cpuMicros: cpu.user + cpu.system }));
};
