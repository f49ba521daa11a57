// Drives the admin API the way an operator's script would: an admin client registered for real,
// its token from client_credentials at POST /token, then JSON requests to the admin listener.
// Every response the helper sees is kept, so a test can check that none of them held a stack trace.
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import { basic, post, registerClient, startTessera, tokenRequest, type Running, type TestDatabase } from './harness.ts';

export const ADMIN = '/admin/v1';

export interface AdminResponse {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  /** The parsed JSON body (undefined when there is none or it is not JSON). */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export interface CallOptions {
  /** The bearer token to send; null sends no Authorization header. Default: the admin token. */
  token?: string | null;
  headers?: Record<string, string>;
  /** A raw payload (string or bytes) sent as it is, instead of JSON.stringify(body). */
  raw?: string | Buffer;
}

export type Call = (method: string, url: string, body?: unknown, options?: CallOptions) => Promise<AdminResponse>;

export interface AdminRunning extends Running {
  adminClient: { id: string; secret?: string };
  token: string;
  call: Call;
  /** The text of every response the admin listener gave through `call`. */
  seen: string[];
  /** An introspecting client, for asking /introspect about anyone's token. */
  introspector: { id: string; secret?: string };
}

/** client_credentials at POST /token: the access token, or an Error saying what the server answered. */
export async function clientToken(app: FastifyInstance, client: { id: string; secret?: string }, scope?: string): Promise<string> {
  const response = await tokenRequest(app, client, { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) });
  if (response.statusCode !== 200) throw new Error(`client_credentials refused: ${response.statusCode} ${response.body}`);
  return response.body_.access_token as string;
}

function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

export function caller(admin: FastifyInstance, defaultToken: () => string, seen: string[]): Call {
  return async (method, url, body, options = {}) => {
    const token = options.token === undefined ? defaultToken() : options.token;
    const headers: Record<string, string> = { ...(token === null ? {} : { authorization: `Bearer ${token}` }) };
    let payload: string | Buffer | undefined;
    if (options.raw !== undefined) {
      payload = options.raw;
      headers['content-type'] = 'application/json';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const response = await admin.inject({
      method: method as 'GET',
      url: url.startsWith('/') && !url.startsWith(ADMIN) && !url.startsWith('/admin/openapi') ? `${ADMIN}${url}` : url,
      headers: { ...headers, ...options.headers },
      ...(payload === undefined ? {} : { payload }),
    });
    seen.push(response.body);
    return { status: response.statusCode, headers: response.headers, body: parse(response.body), text: response.body };
  };
}

/** A Tessera with an admin client (registered `admin: true`) and its token, got the real way. */
export async function startAdmin(t: Test, options: { db?: TestDatabase; env?: Record<string, string> } = {}): Promise<AdminRunning> {
  const running = await startTessera(t, options);
  const adminClient = await registerClient(running.tessera, { name: 'ops console', admin: true });
  const token = await clientToken(running.app, adminClient);
  const introspector = await registerClient(running.tessera, { name: 'resource server', introspect: true });
  const seen: string[] = [];
  return { ...running, adminClient, token, call: caller(running.admin, () => token, seen), seen, introspector };
}

/** Checks an RFC 9457 problem answer: the status, the media type, and the members. */
export function isProblem(t: Test, response: AdminResponse, status: number, what: string, detail?: RegExp): void {
  t.equal(response.status, status, `${what}: status ${status}`);
  t.match(String(response.headers['content-type']), /^application\/problem\+json/, `${what}: application/problem+json`);
  t.equal(response.body?.status, status, `${what}: problem.status`);
  t.type(response.body?.title, 'string', `${what}: problem.title`);
  t.type(response.body?.type, 'string', `${what}: problem.type`);
  if (detail) t.match(response.body?.detail, detail, `${what}: detail`);
}

/** What /introspect (asked by an introspecting client) and /token/verify say of a token right now. */
export async function tokenState(
  app: FastifyInstance,
  introspector: { id: string; secret?: string },
  token: string,
): Promise<{ introspect: boolean; verify: boolean }> {
  const introspected = await post(
    app,
    '/introspect',
    { token },
    { headers: { authorization: basic(introspector.id, introspector.secret!) } },
  );
  if (introspected.statusCode !== 200) throw new Error(`introspection failed: ${introspected.statusCode} ${introspected.body}`);
  const verified = await post(app, '/token/verify', { token });
  if (verified.statusCode !== 200 && verified.statusCode !== 401) throw new Error(`verify failed: ${verified.statusCode} ${verified.body}`);
  return { introspect: introspected.body_.active === true, verify: verified.statusCode === 200 };
}

export const ACTIVE = { introspect: true, verify: true };
export const INACTIVE = { introspect: false, verify: false };

/** The password grant: the response (access_token, refresh_token) or an Error. */
export async function passwordGrant(
  app: FastifyInstance,
  client: { id: string; secret?: string },
  username: string,
  password: string,
): Promise<{ access_token: string; refresh_token: string }> {
  const response = await tokenRequest(app, client, { grant_type: 'password', username, password });
  if (response.statusCode !== 200) throw new Error(`password grant refused: ${response.statusCode} ${response.body}`);
  return response.body_ as { access_token: string; refresh_token: string };
}

/** A refresh at /token: its status and OAuth error code. */
export async function refresh(app: FastifyInstance, client: { id: string; secret?: string }, refreshToken: string) {
  const response = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: refreshToken });
  return { status: response.statusCode, error: response.body_.error as string | undefined, body: response.body_ };
}

/** Whether any text looks like it carries a stack trace or an internal error. */
export function holdsStackTrace(text: string): boolean {
  return /\n\s+at |at [\w.<>]+ \(|node_modules|\.ts:\d+|\.js:\d+|PrismaClient|Invalid `/.test(text);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the wall clock enters a new whole second (JWT `iat` has whole seconds). */
export async function nextSecond(): Promise<void> {
  await sleep(1000 - (Date.now() % 1000) + 20);
}
