// The admin command, run as a user runs it: `node bin/tessera.js …` in a child process (the bundle
// `npm test` builds from src/ before the suites).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { ISSUER, type TestDatabase } from './harness.ts';

export const bin = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment the command needs to find a test database (and the secret a server on it shares). */
export function cliEnv(db: TestDatabase, secret: string) {
  return { DATABASE_URL: db.url, TESSERA_DATA_DIR: db.dataDir, TESSERA_SECRET: secret, TESSERA_ISSUER: ISSUER };
}

export function cli(env: Record<string, string>, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(input ?? '');
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A failure: non-zero status, one clear line, no stack, nothing on stdout. */
export function failsClearly(t: Test, run: Run, message: RegExp) {
  t.equal(run.code, 1, `exit 1: ${run.stderr.trim()}`);
  t.match(run.stderr, message);
  t.notMatch(run.stderr, /\n\s+at |node_modules|\.ts:\d+/, 'no stack trace');
}
