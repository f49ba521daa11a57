// A Tessera server as a process of its own — `node bin/tessera.js serve`, the bundle that
// `npm test` builds from src/ before the suites — for the tests that kill it or cut it off from
// its database, and the requests they send it over real HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { basic } from './harness.ts';

const bin = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

/** A port nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A child process killed at the test's end if still running, with what it wrote on stderr. */
export function supervised(t: Test, child: ChildProcess): { running: () => boolean; stderr: () => string; exited: Promise<void> } {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  t.teardown(async () => {
    if (!running()) return;
    child.kill('SIGKILL');
    await exited;
  });
  return { running, stderr: () => stderr, exited };
}

/** A response's body as JSON, or `{ raw: text }` when it is not JSON. */
export async function jsonOf(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { raw: text };
  }
}

export interface ServerProcess {
  url: string;
  /** The lines the server has written on stdout so far: its JSON log. */
  log: string[];
  /** Sends the signal and resolves once the process has exited. */
  stop(signal: NodeJS.Signals): Promise<void>;
}

/** Starts `tessera serve` with `env` and resolves once /healthz answers; killed at the test's end. */
export async function startServer(t: Test, env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [bin, 'serve'], {
    env: { ...process.env, LOG_LEVEL: 'info', TESSERA_ADMIN_PORT: '0', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    log.push(...lines);
  });
  const { running, stderr, exited } = supervised(t, child);
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; ; waited += 100) {
    if (!running()) throw new Error(`the server exited at start: ${stderr()}${log.join('\n')}`);
    if (waited > 30_000) throw new Error('the server did not answer /healthz within 30 s');
    const up = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    log,
    async stop(signal) {
      if (running()) child.kill(signal);
      await exited;
    },
  };
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  retryAfter: string | null;
  /** When the request was sent and how long the answer took, in ms. */
  sentAt: number;
  ms: number;
}

/**
 * POSTs a form to the server, with the client's Basic credentials when given; rejects when no
 * answer comes (the server died, or nothing came within `timeoutMs`).
 */
export async function postForm(
  url: string,
  form: Record<string, string>,
  client?: { id: string; secret: string },
  timeoutMs = 30_000,
): Promise<Answer> {
  const sentAt = Date.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(client && { authorization: basic(client.id, client.secret) }) },
    body: new URLSearchParams(form).toString(),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await jsonOf(response);
  return { status: response.status, body, retryAfter: response.headers.get('retry-after'), sentAt, ms: Date.now() - sentAt };
}
