// Property-based fuzzing (fast-check) of every public endpoint against a real Tessera on a real
// database. Generated requests mix real and invented parameter names, hostile values (NUL and
// control characters, lone surrogates, values at and over the 4096-character limit, token-shaped
// strings), repeated parameters, every content type, broken encodings and hostile headers with
// REAL clients, passwords, tokens, codes and cookies, so that cases also get past the first check:
// each case starts from a valid request or from nothing, then is mutated. Tokens, codes and
// cookies the server hands out during the run are filed and reused by later cases.
// Most cases go through app.inject (Fastify's real parsers, no socket); a smaller part writes raw
// bytes to a real socket for what inject cannot express (bytes in the request line and headers,
// Content-Length and chunked framing).
// Client authentication by signed assertion (RFC 7523 private_key_jwt) has properties of its own:
// hostile client_assertion_type and client_assertion values (random text, NUL, lone surrogates,
// sizes around the 8 KiB assertion limit and past the 16 KiB body limit, JWT-shaped garbage, and
// assertions signed with real keys then broken one way or another) at every endpoint that
// authenticates clients, alone and beside Basic credentials or client_secret. So does the
// revocation stream (GET and POST /revocations), over a socket since an accepted stream never ends:
// hostile credentials, bodies and Last-Event-ID headers; a few of its cases are also a table.
// What must hold: never a 5xx; every JSON error is exactly {error, error_description} with an RFC
// code; no answer shows anything from inside (stack traces, file names, SQL, Prisma); malformed
// input is refused, never accepted; an assertion that authenticates nobody is 400 invalid_request
// or 401 invalid_client, and with a second method 400 invalid_request; a stream starts with
// `reset` when it cannot resume, then sends what is in force and `synced`; and the server still
// serves afterwards, private_key_jwt included.
// The seed is fixed so that a run is repeatable, and printed; FUZZ_SEED=n runs other cases. A
// failure prints the generated case and the concrete request and answer.
import { createHash, createHmac, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { BODY_LIMIT } from '../src/app.ts';
import type { Tessera } from '../src/tessera.ts';
import { basic, ISSUER, registerClient, registerUser, startTessera } from './helpers/harness.ts';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20_260_101;
const REDIRECT = 'https://app.example.com/callback';
const ORIGIN = 'https://app.example.com';
const PASSWORD = 'correct horse battery';
const USERNAMES = ['alice', 'bob', 'carol', 'dave'];

// The clients, by index: a generated case names a client by its place here.
const SERVICE = 0; // confidential, client_credentials, may introspect
const JWT = 1; // confidential, client_credentials, JWT access tokens
const WEB = 2; // confidential, password and authorization_code
const SPA = 3; // public, authorization_code
const BROWSER = 4; // public browser client: refresh token in a cookie
const CLIENT_COUNT = 5;

const PATHS = (
  '/token /token/refresh /token/logout /token/verify /introspect /revoke /authorize ' +
  '/.well-known/oauth-authorization-server /.well-known/jwks.json /healthz /readyz'
).split(' ');
const PARAM_NAMES = (
  'grant_type client_id client_secret scope username password refresh_token code redirect_uri code_verifier token token_type_hint ' +
  'audience response_type state code_challenge code_challenge_method csrf nonce prompt max_age client_assertion client_assertion_type ' +
  '__proto__ constructor prototype toString hasOwnProperty'
).split(' ');
const GRANT_TYPES = [
  'client_credentials',
  'password',
  'refresh_token',
  'authorization_code',
  'implicit',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:grant-type:device_code',
  'CLIENT_CREDENTIALS',
  'client_credentials ',
  'toString',
  '__proto__',
  'constructor',
];
/** Values with a meaning somewhere; `<fz` probes that pages escape what they echo. */
const DICTIONARY = [
  '',
  ' ',
  '+',
  '%',
  '&',
  '=',
  'null',
  'undefined',
  'true',
  '0',
  '-1',
  '1e309',
  '[]',
  '{}',
  '<fz>',
  '"><fz x=1>',
  "'><fz>",
  'https://evil.example/cb',
  `${REDIRECT}/`,
  `${REDIRECT}?x=1`,
  'javascript:alert(1)',
  'S256',
  'plain',
  'code',
  'token',
  'openid',
  'read write',
  'access_token',
  'refresh_token',
  "' OR '1'='1",
  '\\',
  '..',
  '\r\n',
  'é',
  '😀',
  '\uFEFF',
  '\uFFFD',
  '\u2028',
];
const CONTENT_TYPES = [
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'application/x-www-form-urlencoded; charset=ISO-8859-1',
  'APPLICATION/X-WWW-FORM-URLENCODED',
  'application/x-www-form-urlencoded;;charset="utf-8"',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=',
  'application/jsonx',
  'application/vnd.api+json',
  'application/x-www-form-urlencoded, application/json',
  'multipart/form-data; boundary=fzb',
  'multipart/form-data',
  'text/plain',
  'text/html',
  'application/xml',
  'application/octet-stream',
  '*/*',
  '',
  ';',
  '/',
];
/** Broken percent-encoding and bytes that are not UTF-8, as they may appear in a form or query. */
const FORM_POISONS: (string | number[])[] = [
  '%',
  '%z',
  '%zz',
  '%E0%A4%A',
  '%FF',
  '%C3%28',
  '%ED%A0%80',
  '%C0%AF',
  '%F4%90%80%80',
  '%00',
  'a%00b',
  [0xff],
  [0xc3, 0x28],
  [0xed, 0xa0, 0x80],
  [0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0x00],
];
/** Only percent-escapes: raw bytes in a URL are for the raw socket part (inject would encode them). */
const QUERY_POISONS = FORM_POISONS.filter((poison) => typeof poison === 'string');
/** Inside a JSON string: an escaped NUL, and bytes that are not UTF-8. */
const JSON_POISONS: (string | number[])[] = [
  '\\u0000',
  'a\\u0000',
  [0xff],
  [0xc3, 0x28],
  [0xed, 0xa0, 0x80],
  [0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xc0, 0xaf],
];
/** Inside the decoded Basic credentials, before the colon. */
const BASIC_POISONS: number[][] = [[0x00], [0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80]];
/** What no answer may contain unless the request itself carried it. */
const LEAKS = ['    at ', '.ts:', 'node_modules', 'SELECT ', 'INSERT ', 'prisma', 'Prisma'];
/** The error codes of RFC 6749, 6750, 7009, 7591 and OpenID Connect, and this server's not_found. */
const ERROR_CODES = new Set(
  (
    'invalid_request invalid_client invalid_grant invalid_scope unauthorized_client unsupported_grant_type unsupported_response_type ' +
    'unsupported_token_type access_denied invalid_token insufficient_scope temporarily_unavailable login_required consent_required ' +
    'interaction_required invalid_redirect_uri invalid_client_metadata not_found'
  ).split(' '),
);

// ── What a generated case is ────────────────────────────────────────────────────────────────────

/** Something the server handed out during the run, resolved when the case runs. */
const LIVE_FIELDS = {
  access: ['access', 0],
  jwt: ['jwt', 0],
  refresh: ['refresh', 0],
  code: ['code', 0],
  verifier: ['code', 1],
  sessionRefresh: ['session', 0],
  sessionCsrf: ['session', 1],
  loginCsrf: ['login', 0],
} as const;
type LiveKind = keyof typeof LIVE_FIELDS;
type Group = (typeof LIVE_FIELDS)[LiveKind][0];
const LIVE_KINDS = Object.keys(LIVE_FIELDS) as LiveKind[];

/** The `pick`th one of that kind the client `owner` was given, optionally damaged (`tamper`). */
interface Live {
  live: LiveKind;
  owner: number;
  pick: number;
  tamper: number | null;
}
type Value = string | Live;
type Pair = [name: Value, value: Value];
type Encoding = 'form' | 'form-raw' | 'json' | 'json-arrays' | 'multipart';

type Body =
  | { kind: 'none' }
  | { kind: 'pairs'; pairs: Pair[]; encoding: Encoding }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array };

type Auth =
  | { kind: 'none' }
  | { kind: 'basic'; client: number }
  | { kind: 'post'; client: number }
  | { kind: 'basic-of'; id: Value; secret: Value; encode: boolean }
  | { kind: 'header'; parts: Value[] };

/** Malformed input placed in an otherwise well-formed request: such a request must be refused. */
interface Poison {
  into: 'name' | 'value' | 'extra' | 'basic';
  at: number;
  pick: number;
}

interface Spec {
  method: string;
  path: string;
  query: Pair[] | string | null;
  body: Body;
  /** 'match': the type that fits the body; null: no Content-Type header. */
  contentType: string | null | 'match';
  auth: Auth;
  headers: [string, Value[]][];
  remoteAddress: string;
  poison: Poison | null;
  /** For filing what a valid case gets back: the client it is for, and its PKCE verifier. */
  owner: number | null;
  verifier: string | null;
}

const spec = (fields: Partial<Spec> & Pick<Spec, 'method' | 'path'>): Spec => ({
  query: null,
  body: { kind: 'none' },
  contentType: 'match',
  auth: { kind: 'none' },
  headers: [],
  remoteAddress: '127.0.0.1',
  poison: null,
  owner: null,
  verifier: null,
  ...fields,
});
const form = (pairs: Pair[], encoding: Encoding = 'form'): Body => ({ kind: 'pairs', pairs, encoding });
const live = (kind: LiveKind, owner: number, pick: number): Live => ({ live: kind, owner, pick, tamper: null });
const challengeOf = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

// ── The server's handouts, and turning a case into a request ────────────────────────────────────

interface FuzzClient {
  id: string;
  secret?: string;
}

/** Damages a token: one character changed, cut short, lengthened or upper-cased. */
function tamper(token: string, n: number): string {
  if (token.length === 0) return 'x';
  const at = n % token.length;
  switch (n % 4) {
    case 0:
      return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
    case 1:
      return token.slice(0, at);
    case 2:
      return token + token.slice(0, 1 + (n % 8));
    default:
      return token.toUpperCase();
  }
}

/** Tokens, codes and cookies the server handed out, the newest 32 per kind and client. */
class Pool {
  private readonly lists = new Map<string, string[][]>();

  private key(group: Group, owner: number): string {
    return group === 'login' ? group : `${group}:${owner % CLIENT_COUNT}`;
  }

  add(group: Group, owner: number, entry: string[]): void {
    const list = this.lists.get(this.key(group, owner)) ?? [];
    list.push(entry);
    if (list.length > 32) list.shift();
    this.lists.set(this.key(group, owner), list);
  }

  resolve(value: Live): string {
    const [group, field] = LIVE_FIELDS[value.live];
    const list = this.lists.get(this.key(group, value.owner)) ?? [];
    // Newest first (most are used up by their first use); none yet: a well-shaped token the server never issued.
    const found = list[list.length - 1 - (value.pick % Math.max(1, list.length))]?.[field] ?? `tsa_${'A'.repeat(43)}`;
    return value.tamper === null ? found : tamper(found, value.tamper);
  }
}

/** Percent-encodes every byte of the UTF-8 encoding but the unreserved ones (a lone surrogate becomes U+FFFD's bytes). */
function formEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const bytesOf = (poison: string | number[]) => (typeof poison === 'string' ? Buffer.from(poison, 'latin1') : Buffer.from(poison));
const pickOf = <T>(list: readonly T[], n: number): T => list[n % list.length]!;

interface Built {
  options: InjectOptions;
  /** Everything the request carried, decoded: an answer may echo any of it. */
  sent: string;
}

const CONTENT_TYPE_OF: Record<Encoding, string> = {
  form: 'application/x-www-form-urlencoded',
  'form-raw': 'application/x-www-form-urlencoded',
  json: 'application/json',
  'json-arrays': 'application/json',
  multipart: 'multipart/form-data; boundary=fzb',
};

function encodePairs(pairs: [string, string][], encoding: Encoding, poison: Poison | null, poisons = FORM_POISONS): Buffer {
  const poisonAt = poison && poison.into !== 'basic' && pairs.length > 0 ? poison.at % pairs.length : -1;
  if (encoding === 'multipart') {
    const parts = pairs.map(([name, value]) => `--fzb\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
    return Buffer.from(`${parts.join('')}--fzb--\r\n`);
  }
  if (encoding === 'json' || encoding === 'json-arrays') {
    const poisonBytes = poison ? bytesOf(pickOf(JSON_POISONS, poison.pick)) : Buffer.alloc(0);
    // A poison goes inside a string, before its closing quote.
    const str = (text: string, poisoned: boolean) =>
      poisoned
        ? Buffer.concat([Buffer.from(JSON.stringify(text).slice(0, -1)), poisonBytes, Buffer.from('"')])
        : Buffer.from(JSON.stringify(text));
    const entries: Buffer[] = [];
    const grouped = new Map<string, string[]>();
    for (const [name, value] of pairs) grouped.set(name, [...(grouped.get(name) ?? []), value]);
    if (encoding === 'json-arrays') {
      for (const [name, values] of grouped) {
        const json = values.length === 1 ? JSON.stringify(values[0]) : JSON.stringify(values);
        entries.push(Buffer.concat([Buffer.from(`${JSON.stringify(name)}:`), Buffer.from(json)]));
      }
    }
    // Plain JSON repeats a key as it is; JSON.parse keeps the last.
    else
      pairs.forEach(([name, value], i) =>
        entries.push(
          Buffer.concat([
            str(name, i === poisonAt && poison?.into === 'name'),
            Buffer.from(':'),
            str(value, i === poisonAt && poison?.into === 'value'),
          ]),
        ),
      );
    if (poison?.into === 'extra' || (poison && poison.into !== 'basic' && poisonAt < 0))
      entries.push(Buffer.concat([Buffer.from('"fz":'), str('x', true)]));
    return Buffer.concat([
      Buffer.from('{'),
      ...entries.flatMap((entry, i) => (i === 0 ? [entry] : [Buffer.from(','), entry])),
      Buffer.from('}'),
    ]);
  }
  const poisonBytes = poison ? bytesOf(pickOf(poisons, poison.pick)) : Buffer.alloc(0);
  const encode = encoding === 'form' ? formEncode : (text: string) => text;
  const parts = pairs.map(([name, value], i) =>
    Buffer.concat([
      Buffer.from(encode(name)),
      i === poisonAt && poison?.into === 'name' ? poisonBytes : Buffer.alloc(0),
      Buffer.from('='),
      Buffer.from(encode(value)),
      i === poisonAt && poison?.into === 'value' ? poisonBytes : Buffer.alloc(0),
    ]),
  );
  if (poison?.into === 'extra' || (poison && poison.into !== 'basic' && poisonAt < 0))
    parts.push(Buffer.concat([Buffer.from('fz='), poisonBytes]));
  return Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [part] : [Buffer.from('&'), part])));
}

function build(s: Spec, pool: Pool, clients: readonly FuzzClient[]): Built {
  const sent: string[] = [];
  const resolve = (value: Value) => {
    const text = typeof value === 'string' ? value : pool.resolve(value);
    sent.push(text);
    return text;
  };
  const headers: Record<string, string> = {};
  const bodyPairs = s.body.kind === 'pairs' ? s.body.pairs.map(([n, v]): [string, string] => [resolve(n), resolve(v)]) : [];
  const auth = s.auth;
  if (auth.kind === 'basic' || auth.kind === 'post') {
    const client = clients[auth.client % clients.length]!;
    if (auth.kind === 'post')
      bodyPairs.unshift(['client_id', client.id], ...(client.secret ? [['client_secret', client.secret] as [string, string]] : []));
    else if (s.poison?.into === 'basic') {
      const poison = Buffer.from(pickOf(BASIC_POISONS, s.poison.pick));
      const raw = Buffer.concat([Buffer.from(client.id), poison, Buffer.from(`:${client.secret ?? ''}`)]);
      headers.authorization = `Basic ${raw.toString('base64')}`;
    } else headers.authorization = `Basic ${Buffer.from(`${formEncode(client.id)}:${formEncode(client.secret ?? '')}`).toString('base64')}`;
  } else if (auth.kind === 'basic-of') {
    const [id, secret] = [resolve(auth.id), resolve(auth.secret)];
    const joined = auth.encode ? `${formEncode(id)}:${formEncode(secret)}` : `${id}:${secret}`;
    headers.authorization = `Basic ${Buffer.from(joined).toString('base64')}`;
  } else if (auth.kind === 'header') headers.authorization = auth.parts.map(resolve).join('');
  for (const [name, parts] of s.headers) headers[name] = parts.map(resolve).join('');

  let payload: Buffer | undefined;
  let matching: string | null = null;
  const bodyPoison = s.method === 'GET' ? null : s.poison;
  if (s.body.kind === 'pairs') {
    payload = encodePairs(bodyPairs, s.body.encoding, bodyPoison);
    matching = CONTENT_TYPE_OF[s.body.encoding];
  } else if (s.body.kind === 'text') {
    payload = Buffer.from(s.body.text);
    matching = /^\s*[[{"\d]/.test(s.body.text) ? 'application/json' : 'application/x-www-form-urlencoded';
  } else if (s.body.kind === 'bytes') {
    payload = Buffer.from(s.body.bytes);
    matching = 'application/x-www-form-urlencoded';
  }
  const contentType = s.contentType === 'match' ? matching : s.contentType;
  if (contentType !== null) headers['content-type'] = contentType;

  let url = s.path;
  if (typeof s.query === 'string') url += `?${s.query}`;
  else if (s.query) {
    const pairs = s.query.map(([n, v]): [string, string] => [resolve(n), resolve(v)]);
    url += `?${encodePairs(pairs, 'form', s.method === 'GET' ? s.poison : null, QUERY_POISONS).toString('latin1')}`;
  }
  const options: InjectOptions = { method: s.method as InjectOptions['method'], url, headers, remoteAddress: s.remoteAddress };
  if (payload !== undefined) options.payload = payload;
  return { options, sent: [...sent, url, JSON.stringify(headers), payload?.toString('latin1') ?? ''].join('\n') };
}

function describeRequest(options: InjectOptions, res?: LightMyRequestResponse): string {
  const payload = Buffer.isBuffer(options.payload) ? options.payload.toString('latin1') : String(options.payload ?? '');
  const short = (text: string) => (text.length > 600 ? `${text.slice(0, 600)}… (${text.length} chars)` : text);
  const request = { method: options.method, url: short(String(options.url)), headers: options.headers, payload: short(payload) };
  const answer = res ? `\nanswer: ${res.statusCode} ${JSON.stringify(res.headers)} ${short(res.body)}` : '';
  return `request: ${JSON.stringify(request, (_k, v: unknown) => (typeof v === 'string' ? short(v) : v))}${answer}`;
}

// ── What every answer must be ───────────────────────────────────────────────────────────────────

interface Answer {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

const header = (answer: Answer, name: string) => {
  const value = answer.headers[name];
  return Array.isArray(value) ? value.join(', ') : value === undefined ? undefined : String(value);
};

/** What is wrong with one answer, or null. `sent`: what the request carried (and may be echoed). */
function problemWith(answer: Answer, sent: string, options: { errorShape: boolean; path?: string }): string | null {
  if (answer.status >= 500) return `a ${answer.status}`;
  const leak = LEAKS.find(
    (marker) => !sent.includes(marker) && (answer.body.includes(marker) || (header(answer, 'location') ?? '').includes(marker)),
  );
  if (leak !== undefined) return `the answer shows ${JSON.stringify(leak)}`;
  const type = header(answer, 'content-type') ?? '';
  if (type.startsWith('text/html') && answer.body.includes('<fz')) return 'the page echoes markup unescaped';
  if (answer.status >= 300 && answer.status < 400 && !(header(answer, 'location') ?? '').startsWith(`${REDIRECT}?`))
    return `a redirect to an unregistered place: ${header(answer, 'location')}`;
  if (answer.body.includes('"access_token"') && !(header(answer, 'cache-control') ?? '').includes('no-store'))
    return 'a token without Cache-Control: no-store';
  if (answer.status === 429 && header(answer, 'retry-after') === undefined) return 'a 429 without Retry-After';
  if (!options.errorShape || answer.status < 400 || answer.body === '') return null;
  if (!type.startsWith('application/json')) {
    // The sign-in page's errors are pages; every other error is JSON.
    return options.path === '/authorize' && type.startsWith('text/html') ? null : `an error that is not JSON (${type})`;
  }
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    return 'an error body that does not parse';
  }
  const keys = body && typeof body === 'object' ? Object.keys(body).sort().join(',') : '';
  if (keys !== 'error,error_description') return `an error that is not {error, error_description}: ${answer.body.slice(0, 200)}`;
  const { error, error_description } = body as Record<string, unknown>;
  if (typeof error !== 'string' || !ERROR_CODES.has(error)) return `an error code that is no RFC's: ${JSON.stringify(error)}`;
  if (typeof error_description !== 'string') return 'an error_description that is not a string';
  if (answer.status === 429 && error !== 'temporarily_unavailable') return 'a 429 that is not temporarily_unavailable';
  return null;
}

/** Files what a case got back, so that later cases can use it. */
function harvest(s: Spec, res: LightMyRequestResponse, pool: Pool): void {
  const owner = s.owner ?? (s.auth.kind === 'basic' || s.auth.kind === 'post' ? s.auth.client : null);
  if (res.statusCode === 200 && res.body.startsWith('{')) {
    const body = JSON.parse(res.body) as Record<string, unknown>;
    if (typeof body.access_token === 'string')
      pool.add(body.access_token.includes('.') ? 'jwt' : 'access', owner ?? 0, [body.access_token]);
    if (typeof body.refresh_token === 'string' && owner !== null) pool.add('refresh', owner, [body.refresh_token]);
  }
  const cookies = new Map<string, string>();
  const setCookie = res.headers['set-cookie'];
  for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
    const [pair] = line.split(';');
    const at = pair!.indexOf('=');
    if (at > 0 && at < pair!.length - 1) cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
  }
  const refresh = cookies.get('tessera_refresh');
  const csrf = cookies.get('tessera_csrf');
  if (refresh && csrf) pool.add('session', owner ?? BROWSER, [refresh, csrf]);
  const loginCsrf = cookies.get('tessera_login_csrf');
  if (loginCsrf) pool.add('login', 0, [loginCsrf]);
  const location = res.headers.location;
  if (typeof location === 'string' && location.startsWith(REDIRECT)) {
    const code = new URL(location).searchParams.get('code');
    if (code && owner !== null) pool.add('code', owner, [code, s.verifier ?? 'x'.repeat(43)]);
  }
}

// ── Generators ──────────────────────────────────────────────────────────────────────────────────

const B64URL = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
const b64url = (minLength: number, maxLength: number) => fc.string({ unit: B64URL, minLength, maxLength });
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url');
const char = (min: number, max: number) => fc.integer({ min, max }).map((c) => String.fromCharCode(c));
const latin1 = (maxLength: number) => fc.string({ unit: char(0, 255), maxLength });

const hostileChar = fc.oneof(
  char(0, 31),
  fc.constant('\x7f'),
  char(0xd800, 0xdfff), // lone surrogates
  fc.constantFrom(...'%+&=;,:"\'\\<>#?/ é😀', '\u2028', '\uFEFF', '\uFFFD'),
);
const junk: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 3, arbitrary: fc.string({ unit: hostileChar, maxLength: 12 }) },
  { weight: 3, arbitrary: fc.constantFrom(...DICTIONARY) },
  { weight: 1, arbitrary: fc.integer({ min: 4090, max: 4100 }).map((n) => 'a'.repeat(n)) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 4097, max: 20_000 }), hostileChar).map(([n, c]) => c.repeat(n)) },
);

function generators(clients: readonly FuzzClient[], kid: string) {
  const jwtHeader = fc.oneof(
    fc.constantFrom<object>(
      { alg: 'none', typ: 'at+jwt', kid },
      { alg: 'ES256', typ: 'at+jwt', kid },
      { alg: 'HS256', typ: 'at+jwt', kid },
      { alg: 'RS256', typ: 'at+jwt', kid },
      { alg: 'ES256', typ: 'JWT', kid },
      { alg: 'ES256', typ: 'at+jwt', kid: 'nope' },
      { alg: 'ES256', typ: 'at+jwt', kid, crit: ['b64'], b64: false },
      { alg: 'ES256', typ: 'at+jwt', kid: { toString: 1 } },
      {},
    ),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const jwtClaims = fc.oneof(
    fc.record({
      iss: fc.constantFrom(ISSUER, 'https://evil.example'),
      sub: fc.string(),
      client_id: fc.oneof(fc.constantFrom(...clients.map((c) => c.id)), fc.jsonValue({ maxDepth: 1 })),
      exp: fc.oneof(fc.integer(), fc.constant(4_102_444_800), fc.double()),
      iat: fc.integer(),
      jti: fc.oneof(fc.string(), fc.integer()),
      scope: fc.oneof(fc.string(), fc.integer()),
      sid: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 1 })),
    }),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const tokenish: fc.Arbitrary<string> = fc.oneof(
    fc
      .tuple(fc.constantFrom('tsa_', 'tsr_', 'tsc_', 'tss_', 'TSA_', 'tsa', 'tsx_', ''), fc.oneof(b64url(43, 43), b64url(0, 60)))
      .map(([prefix, body]) => prefix + body),
    fc.tuple(jwtHeader, jwtClaims, b64url(0, 90)).map(([h, c, sig]) => `${base64url(h)}.${base64url(c)}.${sig}`),
    fc.array(b64url(0, 20), { maxLength: 6 }).map((segments) => segments.join('.')),
  );
  const realStatic = fc.constantFrom(
    ...clients.map((c) => c.id),
    ...clients.flatMap((c) => (c.secret ? [c.secret] : [])),
    ...USERNAMES,
    PASSWORD,
    REDIRECT,
    ORIGIN,
    kid,
    ...GRANT_TYPES,
    'read',
    'write',
    'profile',
    'email',
  );
  const liveValue: fc.Arbitrary<Live> = fc.record({
    live: fc.constantFrom(...LIVE_KINDS),
    owner: fc.nat({ max: CLIENT_COUNT - 1 }),
    pick: fc.nat(),
    tamper: fc.option(fc.nat(), { nil: null }),
  });
  const value: fc.Arbitrary<Value> = fc.oneof(
    { weight: 4, arbitrary: junk },
    { weight: 2, arbitrary: realStatic },
    { weight: 2, arbitrary: tokenish },
    { weight: 2, arbitrary: liveValue },
  );
  const name: fc.Arbitrary<Value> = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PARAM_NAMES) }, { weight: 2, arbitrary: junk });
  const pairs = fc.array(fc.tuple(name, value), { maxLength: 8 });
  const encoding = fc.constantFrom<Encoding>('form', 'form', 'form', 'form-raw', 'json', 'json', 'json-arrays', 'multipart');
  const address = fc.oneof({ weight: 3, arbitrary: fc.ipV4() }, { weight: 1, arbitrary: fc.ipV6() });

  const wrongJson = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.constantFrom(
      '{"__proto__":{"admin":true},"grant_type":"client_credentials"}',
      '{"constructor":{"prototype":{"admin":true}},"token":"x"}',
      '{"grant_type":["client_credentials"]}',
      '{"grant_type":{"toString":"x"}}',
      '{"grant_type":"client_credentials","grant_type":"password"}',
      '{"a":',
      '{',
      '{"grant_type":"client_credentials",}',
      "{'grant_type':'client_credentials'}",
      '{"grant_type":"client_credentials"}garbage',
      '\uFEFF{"grant_type":"client_credentials"}',
      '{"token":"\\ud800"}',
      '{"token":"\\u0000"}',
      '{"token":1e999}',
      'NaN',
    ),
    fc.integer({ min: 100, max: 7000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
    fc.integer({ min: 100, max: 3000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
  );
  const malformedText = fc
    .array(
      fc.oneof(
        fc.constantFrom(...FORM_POISONS.filter((p): p is string => typeof p === 'string'), '&', '=', '+', '&&', '=='),
        fc.string({ maxLength: 8 }),
      ),
      { maxLength: 8 },
    )
    .map((parts) => parts.join(''));
  const body: fc.Arbitrary<Body> = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(pairs, encoding).map(([p, e]) => form(p, e)) },
    { weight: 2, arbitrary: wrongJson.map((text): Body => ({ kind: 'text', text })) },
    { weight: 1, arbitrary: malformedText.map((text): Body => ({ kind: 'text', text })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes): Body => ({ kind: 'bytes', bytes })) },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
  );
  const contentType: fc.Arbitrary<string | null | 'match'> = fc.oneof(
    { weight: 6, arbitrary: fc.constant<'match'>('match') },
    { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: junk },
  );
  const authorization: fc.Arbitrary<Value[]> = fc.oneof(
    fc.tuple(fc.constantFrom('Bearer ', 'bearer ', 'Bearer  ', 'Bearer', 'BEARER '), value).map(([scheme, v]): Value[] => [scheme, v]),
    fc.uint8Array({ maxLength: 60 }).map((bytes): Value[] => [`Basic ${Buffer.from(bytes).toString('base64')}`]),
    fc.tuple(fc.constantFrom('Basic ', 'basic ', 'Basic', 'Basic  '), value).map(([scheme, v]): Value[] => [scheme, v]),
    fc
      .constantFrom(
        ...['Og==', 'YTo=', 'Ojo6', '=', '====', 'AA==', 'YQ=='].map((b) => `Basic ${b}`),
        'Digest username="x"',
        'Negotiate x',
        '',
      )
      .map((s): Value[] => [s]),
    junk.map((s): Value[] => [s]),
  );
  const auth: fc.Arbitrary<Auth> = fc.oneof(
    fc.constant<Auth>({ kind: 'none' }),
    fc.nat({ max: CLIENT_COUNT - 1 }).map((client): Auth => ({ kind: 'basic', client })),
    fc.nat({ max: CLIENT_COUNT - 1 }).map((client): Auth => ({ kind: 'post', client })),
    fc.tuple(value, value, fc.boolean()).map(([id, secret, encode]): Auth => ({ kind: 'basic-of', id, secret, encode })),
    authorization.map((parts): Auth => ({ kind: 'header', parts })),
  );
  const cookie: fc.Arbitrary<Value[]> = fc.oneof(
    fc.tuple(value, value).map(([r, c]): Value[] => ['tessera_refresh=', r, '; tessera_csrf=', c]),
    value.map((v): Value[] => ['tessera_login_csrf=', v]),
    fc
      .nat()
      .map((p): Value[] => ['tessera_refresh=', live('sessionRefresh', BROWSER, p), '; tessera_csrf=', live('sessionCsrf', BROWSER, p)]),
    fc.array(fc.tuple(junk, junk), { maxLength: 5 }).map((kvs): Value[] => [kvs.map(([k, v]) => `${k}=${v}`).join('; ')]),
    junk.map((s): Value[] => [s]),
  );
  const headerArb: fc.Arbitrary<[string, Value[]]> = fc.oneof(
    cookie.map((parts): [string, Value[]] => ['cookie', parts]),
    fc.tuple(
      fc.constantFrom(
        ...'x-csrf-token origin sec-fetch-site x-forwarded-for x-request-id accept accept-encoding content-encoding expect forwarded referer user-agent'.split(
          ' ',
        ),
      ),
      fc.array(value, { minLength: 1, maxLength: 2 }),
    ),
    fc.constantFrom(ORIGIN, 'https://evil.example', 'null').map((o): [string, Value[]] => ['origin', [o]]),
    fc.constantFrom('cross-site', 'same-origin', 'same-site', 'none').map((v): [string, Value[]] => ['sec-fetch-site', [v]]),
    fc.array(fc.ipV4(), { minLength: 1, maxLength: 30 }).map((ips): [string, Value[]] => ['x-forwarded-for', [ips.join(', ')]]),
    fc.integer({ min: 1000, max: 40_000 }).map((n): [string, Value[]] => ['x-pad', ['p'.repeat(n)]]),
  );
  const headers = fc.array(headerArb, { maxLength: 4 });

  // Valid requests, built from real clients and handouts; the mutations below break them.
  const authOf = (client: number, basicAuth: boolean): Auth =>
    clients[client]!.secret && basicAuth ? { kind: 'basic', client } : { kind: 'post', client };
  const scope = fc.oneof(
    { weight: 3, arbitrary: fc.constant<Pair[]>([]) },
    {
      weight: 2,
      arbitrary: fc.constantFrom('read', 'write', 'read write', 'profile', 'openid profile', 'email').map((s): Pair[] => [['scope', s]]),
    },
    { weight: 1, arbitrary: junk.map((s): Pair[] => [['scope', s]]) },
  );
  const password = fc.oneof({ weight: 6, arbitrary: fc.constant(PASSWORD) }, { weight: 1, arbitrary: junk });
  const verifier = fc.stringMatching(/^[A-Za-z0-9._~-]{43,128}$/);
  const browserHeaders = fc.subarray<[string, Value[]]>([
    ['origin', [ORIGIN]],
    ['sec-fetch-site', ['same-origin']],
  ]);
  const base = { auth: fc.boolean(), address };
  /** Which handout a valid request uses: one of the newest, which are the likeliest to be unused. */
  const recent = fc.nat({ max: 3 });

  const clientCredentials = fc.record({ client: fc.constantFrom(SERVICE, JWT), scope, ...base }).map((r) =>
    spec({
      method: 'POST',
      path: '/token',
      body: form([['grant_type', 'client_credentials'], ...r.scope]),
      auth: authOf(r.client, r.auth),
      remoteAddress: r.address,
      owner: r.client,
    }),
  );
  const passwordGrant = fc
    .record({
      client: fc.constantFrom(WEB, BROWSER),
      username: fc.constantFrom(...USERNAMES),
      password,
      scope,
      extra: browserHeaders,
      ...base,
    })
    .map((r) =>
      spec({
        method: 'POST',
        path: '/token',
        body: form([['grant_type', 'password'], ['username', r.username], ['password', r.password], ...r.scope]),
        auth: authOf(r.client, r.auth),
        headers: r.client === BROWSER ? r.extra : [],
        remoteAddress: r.address,
        owner: r.client,
      }),
    );
  const codeGrant = fc.record({ client: fc.constantFrom(WEB, SPA, BROWSER), pick: recent, extra: browserHeaders, ...base }).map((r) =>
    spec({
      method: 'POST',
      path: '/token',
      body: form([
        ['grant_type', 'authorization_code'],
        ['code', live('code', r.client, r.pick)],
        ['code_verifier', live('verifier', r.client, r.pick)],
        ['redirect_uri', REDIRECT],
      ]),
      auth: authOf(r.client, r.auth),
      headers: r.client === BROWSER ? r.extra : [],
      remoteAddress: r.address,
      owner: r.client,
    }),
  );
  const refreshGrant = fc
    .record({ client: fc.constantFrom(WEB, SPA), path: fc.constantFrom('/token', '/token/refresh'), pick: recent, scope, ...base })
    .map((r) =>
      spec({
        method: 'POST',
        path: r.path,
        body: form([
          ...(r.path === '/token' ? [['grant_type', 'refresh_token'] as Pair] : []),
          ['refresh_token', live('refresh', r.client, r.pick)],
          ...r.scope,
        ]),
        auth: authOf(r.client, r.auth),
        remoteAddress: r.address,
        owner: r.client,
      }),
    );
  const browserRefresh = fc
    .record({ path: fc.constantFrom('/token', '/token/refresh'), pick: recent, extra: browserHeaders, address })
    .map((r) =>
      spec({
        method: 'POST',
        path: r.path,
        body: form(r.path === '/token' ? [['grant_type', 'refresh_token']] : []),
        auth: { kind: 'post', client: BROWSER },
        headers: [
          [
            'cookie',
            ['tessera_refresh=', live('sessionRefresh', BROWSER, r.pick), '; tessera_csrf=', live('sessionCsrf', BROWSER, r.pick)],
          ],
          ['x-csrf-token', [live('sessionCsrf', BROWSER, r.pick)]],
          ...r.extra,
        ],
        remoteAddress: r.address,
        owner: BROWSER,
      }),
    );
  const browserLogout = fc.record({ pick: recent, extra: browserHeaders, address }).map((r) =>
    spec({
      method: 'POST',
      path: '/token/logout',
      body: form([]),
      auth: { kind: 'post', client: BROWSER },
      headers: [
        ['cookie', ['tessera_refresh=', live('sessionRefresh', BROWSER, r.pick), '; tessera_csrf=', live('sessionCsrf', BROWSER, r.pick)]],
        ['x-csrf-token', [live('sessionCsrf', BROWSER, r.pick)]],
        ...r.extra,
      ],
      remoteAddress: r.address,
      owner: BROWSER,
    }),
  );
  const anyToken = fc
    .record({
      kind: fc.constantFrom<LiveKind>('access', 'jwt', 'refresh', 'code'),
      owner: fc.nat({ max: CLIENT_COUNT - 1 }),
      pick: recent,
    })
    .map((r) => live(r.kind, r.owner, r.pick));
  const verify = fc
    .record({
      token: anyToken,
      bearer: fc.boolean(),
      audience: fc.option(fc.constantFrom(ISSUER, 'https://api.example'), { nil: undefined }),
      address,
    })
    .map((r) =>
      spec({
        method: 'POST',
        path: '/token/verify',
        body: form([...(r.bearer ? [] : [['token', r.token] as Pair]), ...(r.audience ? [['audience', r.audience] as Pair] : [])]),
        headers: r.bearer ? [['authorization', ['Bearer ', r.token]]] : [],
        remoteAddress: r.address,
      }),
    );
  const introspectOrRevoke = fc
    .record({
      path: fc.constantFrom('/introspect', '/revoke'),
      client: fc.constantFrom(SERVICE, JWT, WEB, SPA),
      token: anyToken,
      hint: fc.option(fc.constantFrom('access_token', 'refresh_token', 'bogus'), { nil: undefined }),
      ...base,
    })
    .map((r) =>
      spec({
        method: 'POST',
        path: r.path,
        body: form([['token', r.token], ...(r.hint ? [['token_type_hint', r.hint] as Pair] : [])]),
        auth: authOf(r.client, r.auth),
        remoteAddress: r.address,
        owner: r.client,
      }),
    );
  const authorizationRequest = fc.record({
    client: fc.constantFrom(WEB, SPA, BROWSER, SERVICE),
    verifier,
    state: fc.option(junk, { nil: undefined }),
    scope,
  });
  const requestPairs = (r: { client: number; verifier: string; state: string | undefined; scope: Pair[] }): Pair[] => [
    ['response_type', 'code'],
    ['client_id', clients[r.client]!.id],
    ['redirect_uri', REDIRECT],
    ['code_challenge', challengeOf(r.verifier)],
    ['code_challenge_method', 'S256'],
    ...(r.state === undefined ? [] : [['state', r.state] as Pair]),
    ...r.scope,
  ];
  const authorizeGet = fc
    .tuple(authorizationRequest, address)
    .map(([r, remoteAddress]) =>
      spec({ method: 'GET', path: '/authorize', query: requestPairs(r), remoteAddress, owner: r.client, verifier: r.verifier }),
    );
  const authorizePost = fc
    .tuple(authorizationRequest, recent, fc.constantFrom(...USERNAMES), password, address)
    .map(([r, pick, username, pw, remoteAddress]) =>
      spec({
        method: 'POST',
        path: '/authorize',
        body: form([...requestPairs(r), ['csrf', live('loginCsrf', 0, pick)], ['username', username], ['password', pw]]),
        headers: [['cookie', ['tessera_login_csrf=', live('loginCsrf', 0, pick)]]],
        remoteAddress,
        owner: r.client,
        verifier: r.verifier,
      }),
    );

  type Mutation = (s: Spec) => Spec;
  const onParams = (s: Spec, change: (pairs: Pair[]) => Pair[]): Spec => {
    if (s.method === 'GET' && Array.isArray(s.query)) return { ...s, query: change(s.query) };
    if (s.body.kind === 'pairs') return { ...s, body: { ...s.body, pairs: change(s.body.pairs) } };
    return s;
  };
  const at = <T>(list: T[], n: number) => n % Math.max(1, list.length);
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.nat().map(
      (n): Mutation =>
        (s) =>
          onParams(s, (p) => p.filter((_, i) => i !== at(p, n))),
    ),
    fc.tuple(fc.nat(), fc.option(value, { nil: null })).map(
      ([n, v]): Mutation =>
        (s) =>
          onParams(s, (p) => {
            const pair = p[at(p, n)];
            return pair ? [...p, [pair[0], v ?? pair[1]]] : p;
          }),
    ),
    fc.tuple(fc.nat(), value).map(
      ([n, v]): Mutation =>
        (s) =>
          onParams(s, (p) => p.map((pair, i) => (i === at(p, n) ? [pair[0], v] : pair))),
    ),
    fc.tuple(fc.nat(), name).map(
      ([n, v]): Mutation =>
        (s) =>
          onParams(s, (p) => p.map((pair, i) => (i === at(p, n) ? [v, pair[1]] : pair))),
    ),
    fc.tuple(name, value).map(
      ([n, v]): Mutation =>
        (s) =>
          onParams(s, (p) => [...p, [n, v]]),
    ),
    auth.map((a): Mutation => (s) => ({ ...s, auth: a })),
    contentType.map((c): Mutation => (s) => ({ ...s, contentType: c })),
    encoding.map(
      (e): Mutation =>
        (s) =>
          s.body.kind === 'pairs' ? { ...s, body: { ...s.body, encoding: e } } : s,
    ),
    headerArb.map((h): Mutation => (s) => ({ ...s, headers: [...s.headers, h] })),
    fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'HEAD').map((method): Mutation => (s) => ({ ...s, method })),
  );
  /** A valid request, left alone in about a third of the cases (so that handouts keep coming), else broken. */
  const mutated = (valid: fc.Arbitrary<Spec>) =>
    fc.tuple(valid, fc.array(mutation, { maxLength: 3 })).map(([s, mutations]) => mutations.reduce((acc, m) => m(acc), s));

  const chaos = (methods: fc.Arbitrary<string>, paths: fc.Arbitrary<string>) =>
    fc
      .record({
        method: methods,
        path: paths,
        query: fc.oneof(
          { weight: 4, arbitrary: fc.constant(null) },
          { weight: 2, arbitrary: pairs },
          { weight: 1, arbitrary: malformedText },
        ),
        body,
        contentType,
        auth,
        headers,
        remoteAddress: address,
      })
      .map((r) => spec(r));
  const grantTypeChaos = chaos(fc.constant('POST'), fc.constantFrom('/token', '/token/refresh')).chain((s) =>
    fc
      .tuple(fc.oneof(fc.constantFrom(...GRANT_TYPES), junk), auth)
      .map(([grantType, a]) => onParams({ ...s, auth: a }, (p) => [['grant_type', grantType], ...p])),
  );
  const strange = fc.oneof(
    fc.constantFrom(...PATHS.map((p) => `${p}/`), ...PATHS.map((p) => p.toUpperCase()), '//token', '/token/../token', '/token%2Fverify'),
    fc.constantFrom(
      '/',
      '/register',
      '/userinfo',
      '/logout',
      '/metrics',
      '/openapi.json',
      '/docs',
      '/admin',
      '/token/verify/x',
      '/.well-known/',
    ),
    fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
    fc.string({ maxLength: 40 }).map((s) => `/${encodeURI(s)}`),
  );
  const methods = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'SEARCH');

  return {
    valid: fc.oneof(
      clientCredentials,
      passwordGrant,
      codeGrant,
      refreshGrant,
      browserRefresh,
      verify,
      introspectOrRevoke,
      authorizeGet,
      authorizePost,
    ),
    token: fc.oneof(
      { weight: 2, arbitrary: mutated(clientCredentials) },
      { weight: 2, arbitrary: mutated(passwordGrant) },
      { weight: 2, arbitrary: mutated(codeGrant) },
      { weight: 2, arbitrary: mutated(refreshGrant) },
      { weight: 2, arbitrary: mutated(browserRefresh) },
      { weight: 1, arbitrary: mutated(browserLogout) },
      { weight: 3, arbitrary: grantTypeChaos },
    ),
    inspect: fc.oneof(
      { weight: 2, arbitrary: mutated(verify) },
      { weight: 3, arbitrary: mutated(introspectOrRevoke) },
      { weight: 2, arbitrary: chaos(fc.constant('POST'), fc.constantFrom('/token/verify', '/introspect', '/revoke')) },
    ),
    authorize: fc.oneof(
      { weight: 3, arbitrary: mutated(authorizeGet) },
      { weight: 3, arbitrary: mutated(authorizePost) },
      { weight: 2, arbitrary: chaos(fc.constantFrom('GET', 'POST'), fc.constant('/authorize')) },
    ),
    anywhere: fc.oneof(
      { weight: 3, arbitrary: chaos(methods, fc.constantFrom(...PATHS)) },
      { weight: 2, arbitrary: chaos(fc.constantFrom('GET', 'HEAD'), fc.constantFrom(...PATHS)) },
      { weight: 2, arbitrary: chaos(methods, strange) },
    ),
    /** Valid requests with one poison in a form, a query string or Basic credentials. */
    poisonedForms: fc
      .tuple(
        fc.oneof(clientCredentials, verify, introspectOrRevoke, authorizeGet, authorizePost),
        fc.record({ into: fc.constantFrom<Poison['into']>('name', 'value', 'extra', 'basic'), at: fc.nat(), pick: fc.nat() }),
      )
      .map(([s, poison]) => ({
        ...s,
        poison: poison.into === 'basic' && s.auth.kind !== 'basic' ? { ...poison, into: 'value' as const } : poison,
      })),
    /** Valid requests sent as JSON with one poison in a string. */
    poisonedJson: fc
      .tuple(
        fc.oneof(clientCredentials, verify, introspectOrRevoke, authorizePost),
        fc.record({ into: fc.constantFrom<Poison['into']>('name', 'value', 'extra'), at: fc.nat(), pick: fc.nat() }),
      )
      .map(([s, poison]) => ({ ...s, poison, body: s.body.kind === 'pairs' ? { ...s.body, encoding: 'json' as const } : s.body })),
  };
}

// ── The raw socket ──────────────────────────────────────────────────────────────────────────────

interface RawCase {
  /** The bytes to send, one character each (latin1), so that a counterexample reads as text. */
  text: string;
  /** The first request is HEAD: its answer has no body. */
  head: boolean;
}

/** Headers a raw request carries with generated values; the FRAMING ones decide how the request is read. */
const RAW_HEADERS =
  'Authorization Cookie X-CSRF-Token Origin Sec-Fetch-Site X-Forwarded-For Content-Type Accept Connection Content-Encoding'.split(' ');
const FRAMING_HEADERS = ['Transfer-Encoding', 'Content-Length', 'Host', 'Expect', 'Upgrade'];

function rawCases(serviceBasic: string) {
  // Mostly what a URL may hold (so that the request reaches the app), now and then any byte.
  const urlChar = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(..."ABCXYZabcxyz0189-._~!$&'()*+,;=:@/?%") },
    { weight: 1, arbitrary: char(0x21, 0xff) },
  );
  const method = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom('GET', 'POST', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS') },
    { weight: 1, arbitrary: fc.constantFrom('get', 'G\x00T', 'POST ', '', 'CONNECT', 'PRI', 'BREW') },
    { weight: 1, arbitrary: latin1(10) },
  );
  const target = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...PATHS) },
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...PATHS), fc.string({ unit: urlChar, maxLength: 60 })).map(([p, q]) => `${p}?${q}`) },
    { weight: 1, arbitrary: latin1(60).map((s) => `/${s}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('*', 'http://localhost:3000/token', 'https://evil.example/token', '//token', '/token#x', '/%00', ''),
    },
    { weight: 1, arbitrary: fc.integer({ min: 2000, max: 20_000 }).map((n) => `/${'a'.repeat(n)}`) },
  );
  const version = fc.oneof(
    { weight: 16, arbitrary: fc.constant('HTTP/1.1') },
    { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 ', 'HTTP/1.2', 'http/1.1', 'HTTP/1', '', 'HTTP/1.1\x00') },
  );
  const eol = fc.oneof({ weight: 19, arbitrary: fc.constant('\r\n') }, { weight: 1, arbitrary: fc.constantFrom('\n', '\r', '\r\r\n') });
  // Bytes 0x20–0xFF are what a header value may hold; control characters are refused by the parser.
  const headerValue = fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
    { weight: 3, arbitrary: fc.string({ unit: char(0x20, 0xff), maxLength: 40 }) },
    { weight: 1, arbitrary: latin1(40) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        serviceBasic,
        `Bearer tsa_${'A'.repeat(43)}`,
        'Basic Og==',
        'Basic \xff\xfe',
        'tessera_refresh=\xff; tessera_csrf=%zz',
      ),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => `Basic ${Buffer.from(b).toString('base64')}`) },
  );
  const header = fc.oneof(
    { weight: 12, arbitrary: fc.tuple(fc.constantFrom(...RAW_HEADERS), headerValue).map(([n, v]) => `${n}: ${v}`) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...FRAMING_HEADERS), headerValue).map(([n, v]) => `${n}: ${v}`) },
    { weight: 1, arbitrary: fc.tuple(latin1(12), latin1(20)).map(([n, v]) => `${n}: ${v}`) },
    { weight: 1, arbitrary: latin1(30) },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((v) => ` ${v}`) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 24_000 }).map((n) => `X-Pad: ${'a'.repeat(n)}`) },
  );
  const bodyText = fc.oneof(
    fc.constantFrom('grant_type=client_credentials', 'token=x', '{"grant_type":"client_credentials"}', ''),
    latin1(80),
    fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('latin1')),
  );
  const framing = fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          bodyText,
          fc.oneof(
            { weight: 8, arbitrary: fc.constant('exact') },
            { weight: 3, arbitrary: fc.constantFrom('more', 'less', 'none') },
            {
              weight: 2,
              arbitrary: fc.constantFrom(
                '-1',
                'abc',
                '1e3',
                '0x10',
                ' 5',
                '5 5',
                '99999999999999999999',
                '',
                '5\r\nContent-Length: 6',
                '+5',
              ),
            },
          ),
        )
        .map(([body, declared]) => {
          const value =
            declared === 'exact'
              ? body.length
              : declared === 'more'
                ? body.length + 50
                : declared === 'less'
                  ? Math.max(0, body.length - 3)
                  : declared === 'none'
                    ? null
                    : declared;
          return { headers: value === null ? [] : [`Content-Length: ${value}`], body };
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('chunked', 'Chunked', 'gzip, chunked', 'chunked, gzip', 'identity', 'chunked\x00', 'chunked, chunked'),
          bodyText,
          fc.constantFrom('valid', 'zz', 'no-end', 'huge', 'extension', 'negative', 'with-length'),
        )
        .map(([te, body, kind]) => {
          const chunk = `${body.length.toString(16)}\r\n${body}\r\n`;
          const chunks = {
            valid: `${chunk}0\r\n\r\n`,
            zz: `zz\r\n${body}\r\n0\r\n\r\n`,
            'no-end': chunk,
            huge: `ffffffffffffffffff\r\n${body}`,
            extension: `${body.length.toString(16)};x="\x01"\r\n${body}\r\n0\r\n\r\n`,
            negative: `-1\r\n${body}\r\n0\r\n\r\n`,
            'with-length': `${chunk}0\r\n\r\n`,
          }[kind];
          return { headers: [`Transfer-Encoding: ${te}`, ...(kind === 'with-length' ? ['Content-Length: 3'] : [])], body: chunks };
        }),
    },
  );
  return fc
    .record({
      method,
      target,
      version,
      eol,
      host: fc.oneof({ weight: 19, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      form: fc.boolean(),
      headers: fc.array(header, { maxLength: 4 }),
      framing,
      pipelined: fc.boolean(),
    })
    .map((r): RawCase => {
      const lines = [
        `${r.method} ${r.target} ${r.version}`,
        ...(r.host ? ['Host: localhost:3000'] : []),
        ...(r.form ? ['Content-Type: application/x-www-form-urlencoded', `Authorization: ${serviceBasic}`] : []),
        ...r.headers,
        ...r.framing.headers,
      ];
      const text = `${lines.join(r.eol)}${r.eol}${r.eol}${r.framing.body}${r.pipelined && r.method !== 'HEAD' ? 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' : ''}`;
      return { text, head: r.method === 'HEAD' };
    });
}

/**
 * Writes the bytes (and half-closes, unless `keepOpen`), then reads until the server closes,
 * `enough` says what came back suffices, or `waitMs` passes; then closes.
 */
function exchange(
  port: number,
  bytes: Buffer,
  waitMs: number,
  { keepOpen = false, enough }: { keepOpen?: boolean; enough?: (received: Buffer) => boolean } = {},
): Promise<{ received: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => done(false), waitMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (enough?.(Buffer.concat(chunks))) done(false);
    });
    socket.on('close', () => done(true));
    // A reset is an answer too; 'close' follows it.
    socket.on('error', () => {});
    if (keepOpen) socket.write(bytes);
    else socket.end(bytes);
  });
}

/** The answers in what came back, in order (enough of HTTP/1.1 for what this server sends). */
function parseAnswers(data: Buffer, head: boolean): Answer[] | string {
  const answers: Answer[] = [];
  let rest: Buffer = data;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    const lines = rest
      .subarray(0, end < 0 ? rest.length : end)
      .toString('latin1')
      .split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]!)?.[1]);
    if (end < 0 || !status) return `an answer that is not HTTP: ${JSON.stringify(rest.subarray(0, 200).toString('latin1'))}`;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1))
      headers[line.slice(0, line.indexOf(':')).trim().toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    rest = rest.subarray(end + 4);
    let body: Buffer = Buffer.alloc(0);
    // The answer to HEAD has no body, unless the request was refused before it was read as HEAD.
    const headAnswer = head && answers.every((a) => a.status < 200) && (rest.length === 0 || rest.subarray(0, 5).toString() === 'HTTP/');
    if (status >= 200 && status !== 204 && status !== 304 && !headAnswer) {
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        const parts: Buffer[] = [];
        for (;;) {
          const eol = rest.indexOf('\r\n');
          const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
          if (eol < 0 || Number.isNaN(size)) return 'a broken chunked answer';
          parts.push(rest.subarray(eol + 2, eol + 2 + size));
          rest = rest.subarray(eol + 2 + size + 2);
          if (size === 0) break;
        }
        body = Buffer.concat(parts);
      } else if (headers['content-length'] !== undefined) {
        const length = Number(headers['content-length']);
        body = rest.subarray(0, length);
        rest = rest.subarray(length);
      } else {
        body = rest;
        rest = Buffer.alloc(0);
      }
    }
    answers.push({ status, headers, body: body.toString('utf8') });
  }
  return answers;
}

// ── Client assertions (RFC 7523 private_key_jwt) and the revocation stream ──────────────────────

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The endpoints that authenticate clients and answer at once (the stream's answer never ends: it goes over a socket). */
const CLIENT_AUTH_PATHS = ['/token', '/token/refresh', '/introspect', '/revoke'];
/** Extra parameters never take these names: they would change who authenticates. */
const CLIENT_AUTH_NAMES = new Set(['client_id', 'client_secret', 'client_assertion_type', 'client_assertion']);
const EXTRA_NAMES = PARAM_NAMES.filter((name) => !CLIENT_AUTH_NAMES.has(name));

/** Clients an assertion may name: with inline keys, with several keys and no kid, at a jwks_uri, at a broken jwks_uri, without keys, public, unknown. */
const NAMED = ['keyed', 'multi', 'uri', 'broken', 'service', 'spa', 'unknown'] as const;
type Named = (typeof NAMED)[number];
/** The keys the cases sign with, and the client each signs as unless told otherwise: its owner (the stranger's key is nobody's, and has the kid of one of keyed's). */
const SIGNS_AS = {
  'keyed-es': 'keyed',
  'keyed-ed': 'keyed',
  'multi-es': 'multi',
  'multi-rs': 'multi',
  'uri-es': 'uri',
  stranger: 'keyed',
} as const satisfies Record<string, Named>;
type SignerName = keyof typeof SIGNS_AS;

/** Ways to break an assertion signed with a real key: each must be refused. */
const BREAKAGES = [
  'signed by a key that is not the client’s',
  'alg none',
  'alg none, signature kept',
  'alg HS256 keyed with the public key',
  'alg of another key type',
  'alg missing',
  'alg ES512',
  'kid unknown',
  'kid a number',
  'kid NUL',
  'kid 300 characters',
  'the signer’s own jwk in the header',
  'crit unknown',
  'b64 false',
  'iss and sub another client',
  'sub another client',
  'iss and sub with NUL',
  'iss and sub with a lone surrogate',
  'iss and sub 10 KB',
  'sub missing',
  'aud missing',
  'aud elsewhere',
  'aud another endpoint',
  'exp missing',
  'exp a string',
  'exp an hour ahead',
  'exp 1e300',
  'exp past',
  'exp null',
  'nbf an hour ahead',
  'iat an hour ahead',
  'iat a string',
  'jti missing',
  'jti a number',
  'jti an object',
  'jti empty',
  'jti 300 characters',
  'jti 10 KB',
  'signature changed',
  'signature cut',
  'signature of other claims',
  'claims changed after signing',
  'four parts',
] as const;
/** Odd but well-formed assertions: signed by the client's own key, they may be accepted. */
const ODDITIES = [
  'valid',
  'valid, aud a list',
  'typ odd',
  'jku in the header',
  'jti with NUL',
  'jti with a lone surrogate',
  'jti emoji',
  'exp fractional',
  'signature padded',
] as const;
/** The oddities a clean request must be accepted with. */
const SURELY_VALID = new Set<string>(['valid', 'valid, aud a list']);
type How = (typeof BREAKAGES)[number] | (typeof ODDITIES)[number];

type AssertionSpec =
  | { kind: 'text'; text: string }
  /** JWT-shaped: header and payload texts, encoded (`raw`: as they are), then the rest of the parts as they are. */
  | { kind: 'jwt'; header: string; payload: string; rest: string[]; encode: 'base64url' | 'base64' | 'raw' }
  /** Claims about `names` (iss, sub), aud the issuer or the endpoint's URL, signed by `signer`, then changed `how`. */
  | { kind: 'signed'; signer: SignerName; names: Named; aud: 'issuer' | 'endpoint'; how: How; extra: Record<string, fc.JsonValue> }
  /** One the server accepted earlier in the run: each assertion is accepted once. */
  | { kind: 'replay'; pick: number };

/** A second client authentication method beside the assertion. */
type Second =
  | { kind: 'basic'; id: string; secret: string }
  | { kind: 'basic-raw'; header: string }
  | { kind: 'secret'; id: string | null; secret: string };

interface AssertionCase {
  path: string;
  /** null: not sent. */
  type: string | null;
  assertion: AssertionSpec | '' | null;
  /** A client_id beside the assertion; '=' is the id the assertion names. */
  clientId: string | null;
  second: Second | null;
  /** An Authorization header of another scheme (not client authentication). */
  header: string | null;
  params: [string, string][];
  encoding: 'form' | 'json' | 'json-arrays' | 'multipart' | 'typed';
  /** With 'typed': the parameter that gets `typed`, a JSON value that is not a string. */
  typedAt: 'client_assertion' | 'client_assertion_type';
  typed: fc.JsonValue;
  /** client_assertion sent twice. */
  twice: boolean;
  /** A FORM_POISONS entry appended to client_assertion (form encoding). */
  poison: number | null;
}

type KeyAlg = 'ES256' | 'RS256' | 'EdDSA';
interface Signer {
  alg: KeyAlg;
  kid?: string;
  key: KeyObject;
  /** The public key, as registered. */
  jwk: Record<string, unknown>;
}

function newSigner(alg: KeyAlg, kid?: string): Signer {
  const { publicKey, privateKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  const withKid = kid === undefined ? {} : { kid };
  return { alg, ...withKid, key: privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), ...withKid } };
}

/** A JWS signature over any signing input (node:crypto: so that any header, even one jose would refuse to sign, can be signed). */
function signatureOf(signer: Signer, input: string): string {
  const data = Buffer.from(input);
  if (signer.alg === 'EdDSA') return cryptoSign(null, data, signer.key).toString('base64url');
  if (signer.alg === 'ES256') return cryptoSign('sha256', data, { key: signer.key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return cryptoSign('sha256', data, signer.key).toString('base64url');
}

/** What the assertion cases need at run time: the clients' ids, the private keys, and what the server accepted. */
interface KeyWorld {
  ids: Record<Named, string>;
  signers: Record<SignerName, Signer>;
  accepted: string[];
  /** The secret a case names '=service': the service client's own. */
  serviceSecret: string;
  /** For jti: unique within the run (each run has a database of its own). */
  counter: number;
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url');

function signedAssertion(spec: Extract<AssertionSpec, { kind: 'signed' }>, world: KeyWorld, path: string): string {
  const signer = world.signers[spec.signer];
  const id = world.ids[spec.names];
  const other = world.ids[spec.names === 'service' ? 'keyed' : 'service'];
  const now = Math.floor(Date.now() / 1000);
  const header: Record<string, unknown> = { alg: signer.alg, ...(signer.kid === undefined ? {} : { kid: signer.kid }) };
  const claims: Record<string, unknown> = {
    ...spec.extra,
    iss: id,
    sub: id,
    aud: spec.aud === 'issuer' ? ISSUER : `${ISSUER}${path}`,
    iat: now,
    exp: now + 60,
    jti: `fz-${world.counter++}`,
  };
  const signed = (h: Record<string, unknown>, c: Record<string, unknown>, by = signer) => {
    const input = `${b64json(h)}.${b64json(c)}`;
    return `${input}.${signatureOf(by, input)}`;
  };
  const withHeader = (changes: Record<string, unknown>) => signed({ ...header, ...changes }, claims);
  const withClaims = (changes: Record<string, unknown>) => signed(header, { ...claims, ...changes });
  const without = (record: Record<string, unknown>, name: string) => Object.fromEntries(Object.entries(record).filter(([k]) => k !== name));
  const swapPart = (jws: string, at: number, part: string) =>
    jws
      .split('.')
      .map((p, i) => (i === at ? part : p))
      .join('.');
  const valid = signed(header, claims);
  const sig = valid.split('.')[2]!;
  switch (spec.how) {
    case 'valid':
      return valid;
    case 'valid, aud a list':
      return withClaims({ aud: ['https://api.example', `${ISSUER}${path}`] });
    case 'typ odd':
      return withHeader({ typ: 'at+jwt', cty: 'fz' });
    case 'jku in the header':
      return withHeader({ jku: 'http://127.0.0.1:9/jwks.json', x5u: 'http://127.0.0.1:9/x' });
    case 'jti with NUL':
      return withClaims({ jti: `${String(claims.jti)}\u0000` });
    case 'jti with a lone surrogate':
      return withClaims({ jti: `${String(claims.jti)}\ud800` });
    case 'jti emoji':
      return withClaims({ jti: `${String(claims.jti)}😀` });
    case 'exp fractional':
      return withClaims({ exp: now + 60.5 });
    case 'signature padded':
      return `${valid}==`;
    case 'signed by a key that is not the client’s':
      return signed(header, claims, world.signers.stranger);
    case 'alg none':
      return `${b64json({ ...header, alg: 'none' })}.${b64json(claims)}.`;
    case 'alg none, signature kept':
      return swapPart(valid, 0, b64json({ ...header, alg: 'none' }));
    case 'alg HS256 keyed with the public key': {
      const input = `${b64json({ ...header, alg: 'HS256' })}.${b64json(claims)}`;
      return `${input}.${createHmac('sha256', JSON.stringify(signer.jwk)).update(input).digest('base64url')}`;
    }
    case 'alg of another key type':
      return withHeader({ alg: signer.alg === 'RS256' ? 'ES256' : 'RS256' });
    case 'alg missing':
      return signed(without(header, 'alg'), claims);
    case 'alg ES512':
      return withHeader({ alg: 'ES512' });
    case 'kid unknown':
      return withHeader({ kid: 'fz-no-such-kid' });
    case 'kid a number':
      return withHeader({ kid: 7 });
    case 'kid NUL':
      return withHeader({ kid: `${signer.kid ?? ''}\u0000` });
    case 'kid 300 characters':
      return withHeader({ kid: 'k'.repeat(300) });
    case 'the signer’s own jwk in the header': {
      const stranger = world.signers.stranger;
      return signed({ ...header, alg: stranger.alg, kid: stranger.kid, jwk: stranger.jwk }, claims, stranger);
    }
    case 'crit unknown':
      return withHeader({ crit: ['fz'], fz: 1 });
    case 'b64 false':
      return withHeader({ crit: ['b64'], b64: false });
    case 'iss and sub another client':
      return withClaims({ iss: other, sub: other });
    case 'sub another client':
      return withClaims({ sub: other });
    case 'iss and sub with NUL':
      return withClaims({ iss: `${id}\u0000`, sub: `${id}\u0000` });
    case 'iss and sub with a lone surrogate':
      return withClaims({ iss: `${id}\ud800`, sub: `${id}\ud800` });
    case 'iss and sub 10 KB':
      return withClaims({ iss: 'i'.repeat(10_240), sub: 'i'.repeat(10_240) });
    case 'sub missing':
      return signed(header, without(claims, 'sub'));
    case 'aud missing':
      return signed(header, without(claims, 'aud'));
    case 'aud elsewhere':
      return withClaims({ aud: 'https://evil.example' });
    case 'aud another endpoint':
      return withClaims({ aud: `${ISSUER}${path === '/token' ? '/introspect' : '/token'}` });
    case 'exp missing':
      return signed(header, without(claims, 'exp'));
    case 'exp a string':
      return withClaims({ exp: String(now + 60) });
    case 'exp an hour ahead':
      return withClaims({ exp: now + 3600 });
    case 'exp 1e300':
      return withClaims({ exp: 1e300 });
    case 'exp past':
      return withClaims({ exp: now - 60 });
    case 'exp null':
      return withClaims({ exp: null });
    case 'nbf an hour ahead':
      return withClaims({ nbf: now + 3600 });
    case 'iat an hour ahead':
      return withClaims({ iat: now + 3600 });
    case 'iat a string':
      return withClaims({ iat: 'now' });
    case 'jti missing':
      return signed(header, without(claims, 'jti'));
    case 'jti a number':
      return withClaims({ jti: 12_345 });
    case 'jti an object':
      return withClaims({ jti: { id: claims.jti } });
    case 'jti empty':
      return withClaims({ jti: '' });
    case 'jti 300 characters':
      return withClaims({ jti: 'j'.repeat(300) });
    case 'jti 10 KB':
      return withClaims({ jti: 'j'.repeat(10_240) });
    case 'signature changed':
      // In the middle: the last character of a signature may carry bits that decoding drops.
      return swapPart(valid, 2, sig.slice(0, 5) + (sig[5] === 'A' ? 'B' : 'A') + sig.slice(6));
    case 'signature cut':
      return swapPart(valid, 2, sig.slice(0, -12));
    case 'signature of other claims':
      return swapPart(valid, 2, withClaims({ scope: 'read' }).split('.')[2]!);
    case 'claims changed after signing':
      return swapPart(valid, 1, b64json({ ...claims, exp: now + 120 }));
    case 'four parts':
      return `${valid}.${sig}`;
  }
}

function assertionOf(spec: AssertionSpec, world: KeyWorld, path: string): string {
  switch (spec.kind) {
    case 'text':
      return spec.text;
    case 'jwt': {
      const encode = (text: string) => (spec.encode === 'raw' ? text : Buffer.from(text).toString(spec.encode));
      return [encode(spec.header), encode(spec.payload), ...spec.rest].join('.');
    }
    case 'signed':
      return signedAssertion(spec, world, path);
    case 'replay':
      return world.accepted.length === 0 ? 'fz.fz.fz' : world.accepted[spec.pick % world.accepted.length]!;
  }
}

/** Odd but well-formed, and signed by a key of the client it names: the server may accept it. */
const mayAuthenticate = (spec: AssertionSpec | '' | null) =>
  typeof spec === 'object' &&
  spec?.kind === 'signed' &&
  (ODDITIES as readonly string[]).includes(spec.how) &&
  spec.signer !== 'stranger' &&
  SIGNS_AS[spec.signer] === spec.names;

/** The parts of an assertion, decoded: an answer may echo them (its alg, say). */
const decodedParts = (assertion: string) =>
  assertion
    .split('.')
    .slice(0, 3)
    .map((part) => Buffer.from(part, 'base64url').toString('utf8'))
    .join('\n');

type Expectation = 'refused' | 'two-methods' | 'anything';

interface BuiltAssertionCase extends Built {
  assertion: string | null;
  size: number;
  expect: Expectation;
}

function buildAssertionCase(c: AssertionCase, world: KeyWorld): BuiltAssertionCase {
  const assertion = c.assertion === null || c.assertion === '' ? c.assertion : assertionOf(c.assertion, world, c.path);
  const named = typeof c.assertion === 'object' && c.assertion?.kind === 'signed' ? world.ids[c.assertion.names] : world.ids.keyed;
  const secret = (value: string) => (value === '=service' ? world.serviceSecret : value);
  const pairs: [string, string][] = [];
  if (c.clientId !== null) pairs.push(['client_id', c.clientId === '=' ? named : c.clientId]);
  if (c.second?.kind === 'secret') {
    if (c.second.id !== null && c.clientId === null) pairs.push(['client_id', c.second.id]);
    pairs.push(['client_secret', secret(c.second.secret)]);
  }
  if (c.type !== null) pairs.push(['client_assertion_type', c.type]);
  if (assertion !== null) pairs.push(['client_assertion', assertion]);
  if (assertion !== null && c.twice) pairs.push(['client_assertion', assertion]);
  pairs.push(...c.params);

  const headers: Record<string, string> = {};
  if (c.second?.kind === 'basic')
    headers.authorization = `Basic ${Buffer.from(`${formEncode(c.second.id)}:${formEncode(secret(c.second.secret))}`).toString('base64')}`;
  else if (c.second?.kind === 'basic-raw') headers.authorization = c.second.header;
  else if (c.header !== null) headers.authorization = c.header;

  let payload: Buffer;
  if (c.encoding === 'typed') {
    const body: Record<string, unknown> = Object.fromEntries(pairs);
    body[c.typedAt] = c.typed;
    payload = Buffer.from(JSON.stringify(body));
    headers['content-type'] = 'application/json';
  } else {
    const at = pairs.findIndex(([name]) => name === 'client_assertion');
    const poison: Poison | null = c.poison !== null && c.encoding === 'form' && at >= 0 ? { into: 'value', at, pick: c.poison } : null;
    payload = encodePairs(pairs, c.encoding, poison);
    headers['content-type'] = CONTENT_TYPE_OF[c.encoding];
  }
  const options: InjectOptions = { method: 'POST', url: c.path, headers, payload };
  const sent = [payload.toString('latin1'), ...pairs.flat(), JSON.stringify(headers), assertion === null ? '' : decodedParts(assertion)];
  const expect: Expectation = c.second !== null ? 'two-methods' : mayAuthenticate(c.assertion) ? 'anything' : 'refused';
  return { options, sent: sent.join('\n'), assertion, size: payload.length, expect };
}

/** What is wrong with the answer to a client assertion case (beyond problemWith's rules), or null. */
function assertionProblem(answer: Answer, built: BuiltAssertionCase): string | null {
  if (built.expect === 'anything') return null;
  let error: unknown;
  try {
    error = (JSON.parse(answer.body) as { error?: unknown }).error;
  } catch {
    error = undefined;
  }
  const said = `${answer.status} ${String(error ?? answer.body.slice(0, 80))}`;
  if (built.size > BODY_LIMIT && answer.status === 413 && error === 'invalid_request') return null;
  if (built.expect === 'two-methods')
    return answer.status === 400 && error === 'invalid_request'
      ? null
      : `a client assertion with a second client authentication method answered ${said}, not 400 invalid_request`;
  if ((answer.status === 400 && error === 'invalid_request') || (answer.status === 401 && error === 'invalid_client')) return null;
  return `a client assertion that authenticates nobody answered ${said}, not 400 invalid_request or 401 invalid_client`;
}

function assertionGenerators(ids: Record<Named, string>) {
  const realIds = NAMED.map((name) => ids[name]);
  const nonEmpty = junk.filter((s) => s !== '');
  const idish = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...realIds) },
    { weight: 2, arbitrary: junk },
    { weight: 1, arbitrary: fc.constantFrom(`${ids.keyed}\u0000`, `${ids.keyed}\ud800`, 'x'.repeat(200), '') },
  );
  const headerValue: fc.Arbitrary<unknown> = fc.oneof(
    fc.constantFrom<unknown>(
      { alg: 'none' },
      { alg: 'none', typ: 'JWT' },
      { alg: 'HS256', kid: 'fz-es' },
      { alg: 'ES256', kid: 'fz-es' },
      { alg: 'ES256' },
      { alg: 'RS256' },
      { alg: 'EdDSA', kid: 'fz-ed' },
      { alg: 'ES256', kid: 7 },
      { alg: 'ES256', kid: null },
      { alg: 'ES256', kid: ['fz-es'] },
      { alg: 'ES256', kid: '' },
      { alg: 'ES256', kid: 'fz-es\u0000' },
      { alg: 'ES256', kid: 'k'.repeat(5000) },
      { alg: ['ES256'] },
      { alg: null },
      { alg: 'es256' },
      { alg: 'ES256', crit: ['exp'] },
      { alg: 'ES256', crit: ['b64'], b64: false },
      { alg: 'ES256', jwk: { kty: 'EC' } },
      { alg: 'ES256', zip: 'DEF' },
      { alg: 'RSA-OAEP', enc: 'A256GCM' },
      {},
      [],
      null,
      'ES256',
    ),
    fc.record(
      {
        alg: fc.oneof(fc.constantFrom('ES256', 'RS256', 'EdDSA', 'none', 'HS256', 'PS256'), junk),
        kid: fc.oneof(fc.constantFrom('fz-es', 'fz-ed', 'fz-uri'), junk, fc.integer()),
        typ: fc.constantFrom('JWT', 'at+jwt', 'jwt'),
      },
      { requiredKeys: ['alg'] },
    ),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const claimsValue: fc.Arbitrary<unknown> = fc.oneof(
    fc.record(
      {
        iss: idish,
        sub: idish,
        aud: fc.oneof(
          fc.constantFrom(ISSUER, `${ISSUER}/token`, `${ISSUER}/revocations`, 'https://evil.example'),
          fc.array(fc.constantFrom(ISSUER, 'x')),
          junk,
        ),
        exp: fc.oneof(fc.constantFrom(4_102_444_800, 0, -1, 1e300), fc.integer(), fc.double(), fc.string(), fc.constant(null)),
        iat: fc.oneof(fc.integer(), fc.string()),
        nbf: fc.integer(),
        jti: fc.oneof(fc.string(), fc.integer(), fc.constant('j'.repeat(10_240)), fc.jsonValue({ maxDepth: 1 })),
      },
      { requiredKeys: [] },
    ),
    // iss = sub: a real client.
    fc
      .tuple(fc.constantFrom(...realIds), fc.integer({ min: 1_700_000_000, max: 4_102_444_800 }), fc.string())
      .map(([id, exp, jti]) => ({ iss: id, sub: id, aud: ISSUER, exp, jti })),
    fc.jsonValue({ maxDepth: 2 }),
  );
  /** A part's text: mostly JSON, now and then garbage or JSON cut short. */
  const partText = (value: fc.Arbitrary<unknown>) =>
    fc.oneof(
      { weight: 5, arbitrary: value.map((v) => JSON.stringify(v) ?? 'null') },
      { weight: 1, arbitrary: junk },
      { weight: 1, arbitrary: value.map((v) => (JSON.stringify(v) ?? 'null').slice(0, -1)) },
    );
  const jwtShaped = fc
    .record({
      header: partText(headerValue),
      payload: partText(claimsValue),
      rest: fc.oneof(
        { weight: 6, arbitrary: fc.oneof(b64url(0, 90), b64url(86, 86), fc.constant(''), junk).map((sig) => [sig]) },
        { weight: 1, arbitrary: fc.array(b64url(0, 20), { maxLength: 4 }) },
      ),
      encode: fc.constantFrom<'base64url' | 'base64' | 'raw'>('base64url', 'base64url', 'base64url', 'base64', 'raw'),
    })
    .map((r): AssertionSpec => ({ kind: 'jwt', ...r }));
  const huge = fc.oneof(
    // At the 8 KiB limit of an assertion, past it, and past the 16 KiB body limit.
    fc.integer({ min: 8180, max: 8200 }).map((n) => 'a'.repeat(n)),
    fc.integer({ min: 8193, max: 15_000 }).map((n) => `${b64json({ alg: 'ES256', kid: 'fz-es' })}.${'A'.repeat(n)}.${'B'.repeat(86)}`),
    fc.integer({ min: 16_385, max: 40_000 }).map((n) => 'a'.repeat(n)),
    fc.tuple(fc.integer({ min: 9000, max: 20_000 }), hostileChar).map(([n, c]) => c.repeat(n)),
  );
  const signed = fc
    .constantFrom<SignerName>('keyed-es', 'keyed-es', 'keyed-ed', 'multi-es', 'multi-rs', 'uri-es', 'stranger')
    .chain((signer) =>
      fc.record({
        kind: fc.constant<'signed'>('signed'),
        signer: fc.constant(signer),
        names: fc.oneof(
          { weight: 4, arbitrary: fc.constant<Named>(SIGNS_AS[signer]) },
          { weight: 1, arbitrary: fc.constantFrom(...NAMED) },
        ),
        aud: fc.constantFrom<'issuer' | 'endpoint'>('issuer', 'endpoint'),
        how: fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom<How>(...BREAKAGES) },
          { weight: 2, arbitrary: fc.constantFrom<How>(...ODDITIES) },
        ),
        extra: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
      }),
    );
  const assertion: fc.Arbitrary<AssertionSpec> = fc.oneof(
    { weight: 2, arbitrary: junk.map((text): AssertionSpec => ({ kind: 'text', text })) },
    { weight: 1, arbitrary: fc.string({ unit: hostileChar, maxLength: 40 }).map((text): AssertionSpec => ({ kind: 'text', text })) },
    { weight: 1, arbitrary: huge.map((text): AssertionSpec => ({ kind: 'text', text })) },
    { weight: 5, arbitrary: jwtShaped },
    { weight: 12, arbitrary: signed },
    { weight: 1, arbitrary: fc.nat().map((pick): AssertionSpec => ({ kind: 'replay', pick })) },
  );
  const assertionType = fc.oneof(
    { weight: 30, arbitrary: fc.constant<string | null>(ASSERTION_TYPE) },
    { weight: 1, arbitrary: fc.constant<string | null>(null) },
    {
      weight: 2,
      arbitrary: fc.constantFrom<string | null>(
        ASSERTION_TYPE.toUpperCase(),
        `${ASSERTION_TYPE} `,
        ` ${ASSERTION_TYPE}`,
        'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
        'private_key_jwt',
        '',
        `${ASSERTION_TYPE}\u0000`,
        `${ASSERTION_TYPE}\ud800`,
        ASSERTION_TYPE.repeat(80),
      ),
    },
    { weight: 1, arbitrary: junk },
  );
  const endpointParams = (path: string): fc.Arbitrary<[string, string][]> => {
    const own =
      path === '/token'
        ? fc.constantFrom<[string, string][]>(
            [['grant_type', 'client_credentials']],
            [
              ['grant_type', 'client_credentials'],
              ['scope', 'read'],
            ],
            [],
          )
        : path === '/token/refresh'
          ? fc.oneof(
              b64url(0, 50).map((r): [string, string][] => [['refresh_token', `tsr_${r}`]]),
              fc.constant<[string, string][]>([]),
            )
          : fc.oneof(
              b64url(0, 50).map((r): [string, string][] => [['token', `tsa_${r}`]]),
              fc.constant<[string, string][]>([]),
            );
    const extra = fc.array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom(...EXTRA_NAMES),
          junk.filter((n) => !CLIENT_AUTH_NAMES.has(n)),
        ),
        junk,
      ),
      {
        maxLength: 2,
      },
    );
    return fc
      .tuple(own, fc.oneof({ weight: 4, arbitrary: fc.constant<[string, string][]>([]) }, { weight: 1, arbitrary: extra }))
      .map(([o, e]) => [...o, ...e]);
  };
  const encoding = fc.oneof(
    { weight: 16, arbitrary: fc.constant<AssertionCase['encoding']>('form') },
    { weight: 5, arbitrary: fc.constant<AssertionCase['encoding']>('json') },
    { weight: 1, arbitrary: fc.constantFrom<AssertionCase['encoding']>('json-arrays', 'multipart', 'typed') },
  );
  const typed = fc.jsonValue({ maxDepth: 2 }).filter((v) => typeof v !== 'string');
  const otherScheme = fc
    .tuple(fc.constantFrom('Bearer ', 'bearer ', 'Basicx ', 'Digest ', 'DPoP ', 'Negotiate '), b64url(0, 40))
    .map(([scheme, value]) => scheme + value);
  const secondMethod: fc.Arbitrary<Second> = fc.oneof(
    fc
      .tuple(fc.constantFrom(ids.service, ids.keyed, ids.spa), fc.oneof(fc.constant('=service'), nonEmpty))
      .map(([id, secret]): Second => ({ kind: 'basic', id, secret })),
    fc.tuple(nonEmpty, nonEmpty).map(([id, secret]): Second => ({ kind: 'basic', id, secret })),
    fc
      .oneof(
        fc.constantFrom('Basic Og==', 'Basic', 'Basic ', 'basic YTpi', 'BASIC  YTpi', 'Basic ====', 'Basic AA==', 'Basic YTo='),
        fc.uint8Array({ maxLength: 40 }).map((b) => `Basic ${Buffer.from(b).toString('base64')}`),
      )
      .map((header): Second => ({ kind: 'basic-raw', header })),
    fc
      .tuple(fc.option(fc.constantFrom(ids.service, ids.keyed), { nil: null }), fc.oneof(fc.constant('=service'), nonEmpty))
      .map(([id, secret]): Second => ({ kind: 'secret', id, secret })),
  );
  const cases = (second: fc.Arbitrary<Second | null>) =>
    fc
      .constantFrom(...CLIENT_AUTH_PATHS)
      .chain((path) =>
        fc.record({
          path: fc.constant(path),
          type: assertionType,
          assertion: fc.oneof({ weight: 14, arbitrary: assertion }, { weight: 1, arbitrary: fc.constantFrom<'' | null>('', null) }),
          clientId: fc.oneof(
            { weight: 6, arbitrary: fc.constant<string | null>(null) },
            { weight: 2, arbitrary: fc.constant<string | null>('=') },
            { weight: 1, arbitrary: fc.constantFrom<string | null>(...realIds) },
            { weight: 1, arbitrary: junk },
          ),
          second,
          header: fc.oneof({ weight: 6, arbitrary: fc.constant<string | null>(null) }, { weight: 1, arbitrary: otherScheme }),
          params: endpointParams(path),
          encoding,
          typedAt: fc.constantFrom<AssertionCase['typedAt']>('client_assertion', 'client_assertion_type'),
          typed,
          twice: fc.oneof({ weight: 25, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
          poison: fc.oneof({ weight: 25, arbitrary: fc.constant<number | null>(null) }, { weight: 1, arbitrary: fc.nat() }),
        }),
      )
      // Something of an assertion is always sent: without, it would be another test.
      .map((c): AssertionCase =>
        (c.type === null || c.type === '') && (c.assertion === null || c.assertion === '') ? { ...c, type: ASSERTION_TYPE } : c,
      );

  return {
    assertion,
    assertionType,
    /** Assertions alone, or with client_id or an Authorization header of another scheme. */
    oneMethod: cases(fc.constant(null)),
    /** Assertions with Basic credentials or client_secret as well. */
    twoMethods: cases(secondMethod),
  };
}

// The revocation stream, over a real socket: an accepted stream never ends by itself.

type StreamClient = 'service' | 'jwt' | 'spa' | 'keyed';
type StreamCredentials =
  | { kind: 'none' }
  /** `secret` null: the client's own. */
  | { kind: 'basic'; client: StreamClient; secret: string | null }
  | { kind: 'basic-raw'; header: string }
  | { kind: 'secret'; client: StreamClient; secret: string | null }
  | { kind: 'client-id'; client: StreamClient }
  | { kind: 'assertion'; assertion: AssertionSpec; type: string | null; alsoBasic: boolean }
  /** The service's id and secret in the query string, where they are not read. */
  | { kind: 'query' };

type StreamBody =
  | { kind: 'params'; encoding: 'form' | 'json' | 'multipart'; extras: [string, string][] }
  | { kind: 'bytes'; bytes: Uint8Array; contentType: string }
  | { kind: 'huge'; size: number };

interface StreamCase {
  method: string;
  credentials: StreamCredentials;
  body: StreamBody;
  /** Written as it is (one byte per character): it may hold NUL, CR and other bytes a header may not. */
  lastEventId: string | null;
  lastEventIdTwice: boolean;
  /** A raw query string. */
  query: string | null;
}

interface StreamAnswer extends Answer {
  headers: Record<string, string>;
  events: { event: string; id?: string; data: string }[];
  /** Every byte of the answer has arrived (a refusal), or the stream has sent `synced`. */
  complete: boolean;
}

/** Writes a request and reads until the answer is complete (a stream: until `synced`), the server closes, or `waitMs` passes; then closes. */
async function streamExchange(
  port: number,
  request: Buffer,
  head: boolean,
  waitMs: number,
): Promise<{ received: Buffer; answer: StreamAnswer | null; closed: boolean }> {
  const enough = (received: Buffer) => readStreamAnswer(received, head)?.complete === true;
  const { received, closed } = await exchange(port, request, waitMs, { keepOpen: true, enough });
  return { received, answer: readStreamAnswer(received, head), closed };
}

/** The answer so far (enough of HTTP/1.1 and of Server-Sent Events for this server), or null before its head has arrived. */
function readStreamAnswer(data: Buffer, head: boolean): StreamAnswer | null {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]!)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1))
    headers[line.slice(0, line.indexOf(':')).trim().toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
  let rest = data.subarray(end + 4);
  let body: Buffer;
  let ended = false;
  if (head) {
    body = Buffer.alloc(0);
    ended = true;
  } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = [];
    for (;;) {
      const eol = rest.indexOf('\r\n');
      const size = eol < 0 ? NaN : parseInt(rest.subarray(0, eol).toString('latin1'), 16);
      if (Number.isNaN(size) || rest.length < eol + 2 + size + 2) break;
      if (size === 0) {
        ended = true;
        break;
      }
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    body = rest.subarray(0, Number(headers['content-length']));
    ended = rest.length >= Number(headers['content-length']);
  } else body = rest;
  const text = body.toString('utf8');
  const events: StreamAnswer['events'] = [];
  if ((headers['content-type'] ?? '').startsWith('text/event-stream')) {
    const blocks = text.split('\n\n');
    blocks.pop(); // not complete yet
    for (const block of blocks) {
      const fields = block.split('\n').filter((line) => !line.startsWith(':'));
      const field = (name: string) =>
        fields.filter((line) => line.startsWith(`${name}:`)).map((line) => line.slice(name.length + 1).replace(/^ /, ''));
      const [event] = field('event');
      const data = field('data');
      if (event !== undefined || data.length > 0) events.push({ event: event ?? 'message', id: field('id')[0], data: data.join('\n') });
    }
  }
  const synced = events.some((e) => e.event === 'synced');
  return { status, headers, body: text, events, complete: ended || synced || (head && status > 0) };
}

interface BuiltStreamCase {
  request: Buffer;
  /** The request as text (one character per byte), to print and to look for echoes in. */
  text: string;
  head: boolean;
  /** Credentials that may open the stream. */
  mayListen: boolean;
  /** Nothing in the request is wrong: it must be answered with the stream. */
  mustListen: boolean;
  /** The value of Last-Event-ID as the server reads it, or null when it sends none or one it cannot read. */
  lastEventId: string | null;
  sentLastEventId: boolean;
  assertion: string | null;
}

/** What the stream sends when it cannot resume from the given id: an id it issued is a decimal number. */
const resumable = (id: string) => /^\d{1,15}$/.test(id);

function buildStreamCase(c: StreamCase, world: KeyWorld, accounts: Record<StreamClient, FuzzClient>): BuiltStreamCase {
  const head = c.method === 'HEAD';
  const cred = c.credentials;
  const idOf = (client: StreamClient) => accounts[client].id;
  // A client without a secret sends an empty one: "id:" is a public client naming itself.
  const secretOf = (client: StreamClient, secret: string | null) => secret ?? accounts[client].secret ?? '';
  const headerLines: string[] = [`Host: 127.0.0.1`];
  const pairs: [string, string][] = [];
  let assertion: string | null = null;
  if (cred.kind === 'basic') {
    const joined = `${formEncode(idOf(cred.client))}:${formEncode(secretOf(cred.client, cred.secret))}`;
    headerLines.push(`Authorization: Basic ${Buffer.from(joined).toString('base64')}`);
  } else if (cred.kind === 'basic-raw') headerLines.push(`Authorization: ${cred.header}`);
  else if (cred.kind === 'secret') pairs.push(['client_id', idOf(cred.client)], ['client_secret', secretOf(cred.client, cred.secret)]);
  else if (cred.kind === 'client-id') pairs.push(['client_id', idOf(cred.client)]);
  else if (cred.kind === 'assertion') {
    assertion = assertionOf(cred.assertion, world, '/revocations');
    if (cred.type !== null) pairs.push(['client_assertion_type', cred.type]);
    pairs.push(['client_assertion', assertion]);
    if (cred.alsoBasic)
      headerLines.push(`Authorization: Basic ${Buffer.from(`${idOf('service')}:${accounts.service.secret ?? ''}`).toString('base64')}`);
  }
  if (c.lastEventId !== null) for (let i = 0; i < (c.lastEventIdTwice ? 2 : 1); i++) headerLines.push(`Last-Event-ID: ${c.lastEventId}`);
  let payload: Buffer = Buffer.alloc(0);
  const body = c.body;
  if (c.method !== 'GET' && c.method !== 'HEAD') {
    if (body.kind === 'params') {
      payload = encodePairs([...pairs, ...body.extras], body.encoding, null);
      headerLines.push(`Content-Type: ${CONTENT_TYPE_OF[body.encoding]}`);
    } else if (body.kind === 'bytes') {
      payload = Buffer.from(body.bytes);
      headerLines.push(`Content-Type: ${body.contentType}`);
    } else {
      payload = Buffer.from(`${encodePairs(pairs, 'form', null).toString('latin1')}&pad=${'p'.repeat(body.size)}`, 'latin1');
      headerLines.push('Content-Type: application/x-www-form-urlencoded');
    }
    headerLines.push(`Content-Length: ${payload.length}`);
  }
  let target = '/revocations';
  if (cred.kind === 'query')
    target += `?client_id=${formEncode(idOf('service'))}&client_secret=${formEncode(accounts.service.secret ?? '')}`;
  if (c.query !== null) target += `${target.includes('?') ? '&' : '?'}${c.query}`;
  const request = Buffer.concat([Buffer.from(`${c.method} ${target} HTTP/1.1\r\n${headerLines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);

  // Only POST bodies are read; a body of random bytes carries no credentials.
  const bodyRead = c.method === 'POST';
  const bodyCarries = bodyRead && body.kind !== 'bytes';
  const ownAssertion = cred.kind === 'assertion' && mayAuthenticate(cred.assertion) && cred.type === ASSERTION_TYPE && !cred.alsoBasic;
  const byBasic =
    (cred.kind === 'basic' && cred.client === 'service' && cred.secret === null) ||
    (cred.kind === 'assertion' && cred.alsoBasic && !bodyCarries);
  const byBody = bodyCarries && ((cred.kind === 'secret' && cred.client === 'service' && cred.secret === null) || ownAssertion);
  const mayListen = (c.method === 'GET' || c.method === 'POST' || head) && (byBasic || byBody);
  const cleanId = c.lastEventId === null || /^[\x20-\x7e]{0,8000}$/.test(c.lastEventId);
  const cleanBody = !bodyRead || (body.kind === 'params' && body.encoding !== 'multipart' && body.extras.length === 0);
  const surelyValid = !byBody || cred.kind !== 'assertion' || (cred.assertion.kind === 'signed' && SURELY_VALID.has(cred.assertion.how));
  const mustListen = mayListen && !head && cleanId && cleanBody && c.query === null && surelyValid;
  // Node trims the spaces around a header's value, and joins one sent twice with ", ".
  const trimmed = c.lastEventId?.replace(/^[ \t]+|[ \t]+$/g, '');
  const lastEventId = c.lastEventId === null || !cleanId ? null : c.lastEventIdTwice ? `${trimmed}, ${trimmed}` : trimmed!;
  const text = request.toString('latin1') + (assertion === null ? '' : `\n${decodedParts(assertion)}`);
  return { request, text, head, mayListen, mustListen, lastEventId, sentLastEventId: c.lastEventId !== null, assertion };
}

/** What is wrong with an answer of GET or POST /revocations, or null. */
function streamProblem(answer: StreamAnswer | null, built: BuiltStreamCase, closed: boolean): string | null {
  if (answer === null) return closed ? 'the connection closed without an answer' : 'no answer within 3 s';
  if (answer.status !== 200) {
    if (built.mustListen) return `a request that may listen was refused: ${answer.status} ${answer.body.slice(0, 200)}`;
    if (answer.status < 400) return `answered ${answer.status}`;
    if (!answer.complete) return 'a refusal that did not arrive in full';
    return problemWith(answer, built.text, { errorShape: true });
  }
  if (!built.mayListen) return 'a stream for credentials that may not listen';
  const leak = problemWith(answer, built.text, { errorShape: false });
  if (leak) return leak;
  if (!(answer.headers['content-type'] ?? '').startsWith('text/event-stream'))
    return `a 200 that is not text/event-stream: ${answer.headers['content-type']}`;
  if (answer.headers['cache-control'] !== 'no-store') return 'a stream without Cache-Control: no-store';
  if (built.head) return null;
  if (!answer.complete) return `no synced event within 3 s (events: ${answer.events.map((e) => e.event).join(' ') || 'none'})`;
  const names = answer.events.map((e) => e.event);
  // [reset] revocation* synced: told to start over (or not), sent what is in force, then told it is up to date.
  if (!/^(reset )?(revocation )*synced$/.test(names.join(' '))) return `events out of order: ${names.join(' ')}`;
  if (built.lastEventId !== null && !resumable(built.lastEventId) && names[0] !== 'reset')
    return `Last-Event-ID ${JSON.stringify(built.lastEventId.slice(0, 60))} cannot be resumed from, and the first event is ${names[0]}, not reset`;
  if (!built.sentLastEventId && names[0] === 'reset') return 'a reset without a Last-Event-ID';
  // A reset carries no id (a listener cut off before `synced` starts over again); every other event a decimal one.
  if (!answer.events.every((e) => (e.event === 'reset' ? e.id === undefined : e.id !== undefined && /^\d+$/.test(e.id))))
    return 'an event without a decimal id, or a reset with one';
  return null;
}

function streamGenerators(assertion: fc.Arbitrary<AssertionSpec>, assertionType: fc.Arbitrary<string | null>) {
  const streamClient = fc.constantFrom<StreamClient>('service', 'service', 'jwt', 'spa', 'keyed');
  const wrongSecret = fc.oneof(
    junk.filter((s) => s !== ''),
    fc.constantFrom(`tss_${'A'.repeat(43)}`),
  );
  const secret = fc.oneof({ weight: 3, arbitrary: fc.constant<string | null>(null) }, { weight: 1, arbitrary: wrongSecret });
  const credentials: fc.Arbitrary<StreamCredentials> = fc.oneof(
    { weight: 1, arbitrary: fc.constant<StreamCredentials>({ kind: 'none' }) },
    { weight: 5, arbitrary: fc.record({ kind: fc.constant<'basic'>('basic'), client: streamClient, secret }) },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          fc.constantFrom('Basic Og==', 'Basic', 'basic YTpi', 'Bearer x', 'Basic \xff\xfe', `Basic ${'A'.repeat(6000)}`),
          fc.uint8Array({ maxLength: 40 }).map((b) => `Basic ${Buffer.from(b).toString('base64')}`),
          latin1(40),
        )
        .map((header): StreamCredentials => ({ kind: 'basic-raw', header })),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant<'secret'>('secret'), client: streamClient, secret }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant<'client-id'>('client-id'), client: streamClient }) },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant<'assertion'>('assertion'),
        assertion,
        type: assertionType,
        alsoBasic: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      }),
    },
    { weight: 1, arbitrary: fc.constant<StreamCredentials>({ kind: 'query' }) },
  );
  const extras = fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(...EXTRA_NAMES),
        junk.filter((n) => !CLIENT_AUTH_NAMES.has(n)),
      ),
      junk,
    ),
    { maxLength: 3 },
  );
  const body: fc.Arbitrary<StreamBody> = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant<'params'>('params'),
        encoding: fc.constantFrom<'form' | 'json' | 'multipart'>('form', 'form', 'form', 'json', 'json', 'multipart'),
        extras: fc.oneof({ weight: 3, arbitrary: fc.constant<[string, string][]>([]) }, { weight: 1, arbitrary: extras }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant<'bytes'>('bytes'),
        bytes: fc.uint8Array({ maxLength: 200 }),
        contentType: fc.constantFrom(...CONTENT_TYPES.slice(0, 8)),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant<'huge'>('huge'), size: fc.integer({ min: 16_000, max: 40_000 }) }) },
  );
  const lastEventId = fc.oneof(
    { weight: 4, arbitrary: fc.constant<string | null>(null) },
    {
      weight: 4,
      arbitrary: fc.constantFrom<string | null>(
        '0',
        '1',
        '2',
        '-1',
        '+1',
        '1.5',
        '1e3',
        '0x10',
        'abc',
        '',
        ' 5',
        '5 ',
        '1 2',
        'NaN',
        'Infinity',
        'null',
        '[]',
        '999999999999999',
        '9999999999999999',
        '000000000000001',
        '18446744073709551616',
        '9'.repeat(400),
        '\t7',
        '\xd9\xa3', // ٣ (ARABIC-INDIC DIGIT THREE) in UTF-8
        'a\x00b',
        '\x00',
        '1\r\n',
        '1\rX-Injected: 1',
      ),
    },
    { weight: 1, arbitrary: fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String) },
    { weight: 1, arbitrary: fc.string({ unit: char(0x20, 0x7e), maxLength: 40 }) },
    { weight: 1, arbitrary: latin1(30) },
    { weight: 1, arbitrary: fc.integer({ min: 6000, max: 20_000 }).map((n) => '7'.repeat(n)) },
  );
  return fc.record({
    method: fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom('GET', 'POST') },
      { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH') },
    ),
    credentials,
    body,
    lastEventId,
    lastEventIdTwice: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    query: fc.oneof(
      { weight: 10, arbitrary: fc.constant<string | null>(null) },
      { weight: 1, arbitrary: fc.constantFrom<string | null>('%zz', 'a=%00', 'a=1&a=2', 'client_id=x', '%E0%A4%A') },
    ),
  });
}

// ── The run ─────────────────────────────────────────────────────────────────────────────────────

/** Runs one property; a failure prints the generated case, the request and the answer. */
async function check<T>(
  t: Test,
  title: string,
  seed: number,
  numRuns: number,
  property: fc.IAsyncProperty<[T]>,
  statuses: Map<number, number>,
) {
  statuses.clear();
  const started = Date.now();
  const details = await fc.check(property, { seed, numRuns });
  const seen = [...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`);
  t.comment(
    `${title}: ${details.numRuns} cases (seed ${seed}) in ${((Date.now() - started) / 1000).toFixed(1)} s; answers ${seen.join(' ')}`,
  );
  if (details.failed) {
    const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    t.fail(title, { counterexample: fc.stringify(details.counterexample), replay: { seed, path: details.counterexamplePath }, error });
  } else t.pass(title);
  return details.numRuns;
}

async function setUp(t: Test) {
  const { app, tessera } = await startTessera(t);
  for (const username of USERNAMES) await registerUser(tessera, username, PASSWORD);
  const registered = [
    await registerClient(tessera, { name: 'service', scopes: ['read', 'write'], introspect: true }),
    await registerClient(tessera, { name: 'jwt', tokenFormat: 'jwt', scopes: ['read'] }),
    await registerClient(tessera, {
      name: 'web',
      grants: ['password', 'authorization_code'],
      redirectUris: [REDIRECT],
      scopes: ['openid', 'profile'],
    }),
    await registerClient(tessera, { name: 'spa', public: true, redirectUris: [REDIRECT], scopes: ['profile', 'email'] }),
    await registerClient(tessera, {
      name: 'browser',
      public: true,
      browser: true,
      grants: ['password', 'authorization_code'],
      redirectUris: [REDIRECT],
      origins: [ORIGIN],
    }),
  ];
  const clients: FuzzClient[] = registered.map(({ id, secret }) => (secret ? { id, secret } : { id }));
  const jwks = JSON.parse((await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).body) as { keys: { kid: string }[] };
  return { app, tessera, clients, kid: jwks.keys[0]!.kid };
}

/**
 * Clients that authenticate with keys (RFC 7523), besides the fuzz clients: inline keys with kids
 * (allowed to introspect, and so to listen to the revocation stream), several keys without kid
 * (each that fits is tried), keys at a jwks_uri, and a jwks_uri that serves no JWK Set; a local
 * server serves both URIs.
 */
async function setUpKeyClients(t: Test, tessera: Tessera, clients: readonly FuzzClient[]): Promise<KeyWorld> {
  const signers: Record<SignerName, Signer> = {
    'keyed-es': newSigner('ES256', 'fz-es'),
    'keyed-ed': newSigner('EdDSA', 'fz-ed'),
    'multi-es': newSigner('ES256'),
    'multi-rs': newSigner('RS256'),
    'uri-es': newSigner('ES256', 'fz-uri'),
    stranger: newSigner('ES256', 'fz-es'),
  };
  const jwks = (...of: Signer[]) => JSON.stringify({ keys: of.map((signer) => signer.jwk) });
  const keyServer = createServer((request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(request.url === '/jwks.json' ? jwks(signers['uri-es']) : '{"keys": "none"}');
  });
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        keyServer.closeAllConnections();
        keyServer.close(() => resolve());
      }),
  );
  const keyUrl = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}`;
  const withKeys = { grants: ['client_credentials'], scopes: ['read'] };
  const keyed = await registerClient(tessera, {
    name: 'keyed',
    ...withKeys,
    introspect: true,
    jwks: jwks(signers['keyed-es'], signers['keyed-ed']),
  });
  const multi = await registerClient(tessera, {
    name: 'multi',
    ...withKeys,
    jwks: jwks(newSigner('ES256'), signers['multi-es'], signers['multi-rs']),
  });
  const uri = await registerClient(tessera, { name: 'uri', ...withKeys, jwksUri: `${keyUrl}/jwks.json` });
  const broken = await registerClient(tessera, { name: 'broken', ...withKeys, jwksUri: `${keyUrl}/broken` });
  const ids: Record<Named, string> = {
    keyed: keyed.id,
    multi: multi.id,
    uri: uri.id,
    broken: broken.id,
    service: clients[SERVICE]!.id,
    spa: clients[SPA]!.id,
    unknown: 'fz-no-such-client',
  };
  return { ids, signers, accepted: [], serviceSecret: clients[SERVICE]!.secret!, counter: 0 };
}

/** A request whose body never arrives in full: sent, then the connection is held open up to 15 s. */
function stalledRequest(port: number): Promise<{ received: Buffer; closed: boolean; seconds: number }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const started = Date.now();
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closed, seconds: (Date.now() - started) / 1000 });
    };
    const timer = setTimeout(() => done(false), 15_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => done(true));
    socket.on('error', () => {});
    socket.write(
      'POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 50\r\n\r\ngrant_type=',
    );
  });
}

t.test('fuzzing the public endpoints', async (t) => {
  const { app, tessera, clients, kid } = await setUp(t);
  const world = await setUpKeyClients(t, tessera, clients);
  const pool = new Pool();
  const statuses = new Map<number, number>();
  const gen = generators(clients, kid);
  t.comment(`seed ${SEED} (FUZZ_SEED=n for other cases)`);

  /** Runs one case through inject, files its handouts, and throws what is wrong with the answer. */
  const runCase = async (s: Spec, mustRefuse: boolean) => {
    const { options, sent } = build(s, pool, clients);
    const res = await app.inject(options);
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    harvest(s, res, pool);
    const answer = { status: res.statusCode, headers: res.headers, body: res.body };
    const problem =
      problemWith(answer, sent, { errorShape: true, path: s.path }) ??
      (mustRefuse && res.statusCode < 400 ? `malformed input accepted with ${res.statusCode}` : null);
    if (problem) throw new Error(`${problem}\n${describeRequest(options, res)}`);
  };
  const property = (arb: fc.Arbitrary<Spec>, mustRefuse = false) => fc.asyncProperty(arb, (s) => runCase(s, mustRefuse));

  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  // The contract drops a request that has not arrived in full within 10 s: one that stalls is
  // opened now and looked at after the properties have run.
  const stalled = stalledRequest(port);

  let cases = 0;
  // Unbroken requests first, so that the pool holds tokens, codes and cookies of every kind.
  cases += await check(t, 'valid requests', SEED, 100, property(gen.valid), statuses);
  cases += await check(t, 'POST /token, /token/refresh, /token/logout: every grant, broken', SEED + 1, 1500, property(gen.token), statuses);
  cases += await check(t, 'POST /token/verify, /introspect, /revoke', SEED + 2, 1000, property(gen.inspect), statuses);
  cases += await check(t, 'GET and POST /authorize', SEED + 3, 700, property(gen.authorize), statuses);
  cases += await check(t, 'any method, any path', SEED + 4, 800, property(gen.anywhere), statuses);
  const refused = 'malformed forms, query strings and Basic credentials are refused';
  cases += await check(t, refused, SEED + 5, 400, property(gen.poisonedForms, true), statuses);
  cases += await check(t, 'malformed JSON bodies are refused', SEED + 6, 200, property(gen.poisonedJson, true), statuses);

  const service = clients[SERVICE]!;
  const serviceBasic = `Basic ${Buffer.from(`${service.id}:${service.secret}`).toString('base64')}`;
  const raw = rawCases(serviceBasic);
  const rawProperty = (errorShape: boolean) =>
    fc.asyncProperty(raw, async ({ text: sent, head }) => {
      const { received, closed } = await exchange(port, Buffer.from(sent, 'latin1'), 5000);
      const shown = `\nsent: ${JSON.stringify(sent.slice(0, 600))}\nreceived: ${JSON.stringify(received.subarray(0, 600).toString('latin1'))}`;
      if (received.length === 0 && !closed) throw new Error(`no answer, and the connection still open 5 s after the request${shown}`);
      const answers = parseAnswers(received, head);
      if (typeof answers === 'string') throw new Error(`${answers}${shown}`);
      for (const answer of answers) {
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const problem = problemWith(answer, sent, { errorShape });
        if (problem) throw new Error(`${problem}${shown}`);
      }
    });
  cases += await check(t, 'raw bytes on a socket: no 5xx, no leak, no hang', SEED + 7, 400, rawProperty(false), statuses);
  cases += await check(t, 'raw bytes on a socket: every error is {error, error_description}', SEED + 8, 100, rawProperty(true), statuses);

  // Client assertions (private_key_jwt) at every endpoint that authenticates clients and answers at once.
  const keyGen = assertionGenerators(world.ids);
  const accepted = (assertion: string | null) => {
    if (assertion === null) return;
    world.accepted.push(assertion);
    if (world.accepted.length > 32) world.accepted.shift();
  };
  const assertionProperty = (arb: fc.Arbitrary<AssertionCase>) =>
    fc.asyncProperty(arb, async (c) => {
      const built = buildAssertionCase(c, world);
      const res = await app.inject(built.options);
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode === 200) accepted(built.assertion);
      const answer = { status: res.statusCode, headers: res.headers, body: res.body };
      const problem = problemWith(answer, built.sent, { errorShape: true, path: c.path }) ?? assertionProblem(answer, built);
      if (problem) throw new Error(`${problem}\n${describeRequest(built.options, res)}`);
    });
  const oneMethod = 'hostile client assertions at /token, /token/refresh, /introspect, /revoke: 400 invalid_request or 401 invalid_client';
  cases += await check(t, oneMethod, SEED + 10, 2000, assertionProperty(keyGen.oneMethod), statuses);
  const twoMethods = 'a client assertion with Basic credentials or client_secret besides: 400 invalid_request';
  cases += await check(t, twoMethods, SEED + 11, 400, assertionProperty(keyGen.twoMethods), statuses);

  // The revocation stream, over a socket: hostile credentials, bodies and Last-Event-IDs.
  const accounts: Record<StreamClient, FuzzClient> = {
    service: clients[SERVICE]!,
    jwt: clients[JWT]!,
    spa: clients[SPA]!,
    keyed: { id: world.ids.keyed },
  };
  const shorten = (text: string) => (text.length > 1200 ? `${text.slice(0, 1200)}… (${text.length} chars)` : text);
  const streamProperty = fc.asyncProperty(streamGenerators(keyGen.assertion, keyGen.assertionType), async (c) => {
    const built = buildStreamCase(c, world, accounts);
    const { answer, received, closed } = await streamExchange(port, built.request, built.head, 3000);
    if (answer) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    if (answer?.status === 200) accepted(built.assertion);
    const problem = streamProblem(answer, built, closed);
    if (problem)
      throw new Error(
        `${problem}\nsent: ${JSON.stringify(shorten(built.text))}\nreceived: ${JSON.stringify(shorten(received.toString('latin1')))}`,
      );
  });
  const stream = 'GET and POST /revocations: refusals are 4xx JSON, streams start with reset or synced';
  cases += await check(t, stream, SEED + 12, 400, streamProperty, statuses);
  t.comment(`${cases} cases in all`);

  t.test('a request that stalls is dropped within the 10 s the contract allows', async (t) => {
    const { received, closed, seconds } = await stalled;
    const answer = received.length > 0 ? received.toString('latin1').split('\r\n')[0] : 'no answer';
    t.ok(closed, `dropped (${answer}; the connection ${closed ? 'was closed' : 'was still open'} after ${seconds.toFixed(0)} s)`);
  });

  t.test('the server still serves', async (t) => {
    t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, '/healthz');
    const request = { authorization: serviceBasic, 'content-type': 'application/x-www-form-urlencoded' };
    const token = await app.inject({ method: 'POST', url: '/token', headers: request, payload: 'grant_type=client_credentials' });
    t.equal(token.statusCode, 200, 'a client_credentials token');
    const overHttp = await fetch(`http://127.0.0.1:${port}/token`, {
      method: 'POST',
      headers: request,
      body: 'grant_type=client_credentials',
    });
    t.equal(overHttp.status, 200, 'and one over a socket');
    t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, '/healthz over a socket');
  });

  /** One request to /revocations over a socket; the connection is closed once the answer (or `synced`) is in. */
  const listen = (method: string, lines: string[], body = '') =>
    streamExchange(
      port,
      Buffer.from(
        `${method} /revocations HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
          [...lines, ...(body === '' ? [] : ['Content-Type: application/x-www-form-urlencoded', `Content-Length: ${body.length}`])]
            .map((line) => `${line}\r\n`)
            .join('') +
          `\r\n${body}`,
        'latin1',
      ),
      method === 'HEAD',
      3000,
    );
  const events = (answer: StreamAnswer | null) => answer?.events.map((e) => e.event).join(' ') ?? `no answer`;
  const errorOf = (answer: StreamAnswer | null) =>
    answer ? `${answer.status} ${(JSON.parse(answer.body || '{}') as { error?: string }).error}` : 'no answer';
  const listener = clients[SERVICE]!;
  const serviceAuthorization = `Authorization: ${basic(listener.id, listener.secret!)}`;
  const assertionFor = (path: string, signer: SignerName = 'keyed-es') =>
    signedAssertion({ kind: 'signed', signer, names: 'keyed', aud: 'endpoint', how: 'valid', extra: {} }, world, path);
  const assertionForm = (assertion: string, extra: Record<string, string> = {}) =>
    new URLSearchParams({ client_assertion_type: ASSERTION_TYPE, client_assertion: assertion, ...extra }).toString();

  t.test('the revocation stream, one case at a time', async (t) => {
    const first = await listen('GET', [serviceAuthorization]);
    t.match(events(first.answer), /^(revocation )*synced$/, 'without Last-Event-ID: what is in force, then synced');
    const newest = first.answer?.events.at(-1)?.id ?? '0';
    t.equal(
      events((await listen('GET', [serviceAuthorization, `Last-Event-ID: ${newest}`])).answer),
      'synced',
      'from the newest id: synced',
    );
    const notOurs = ['abc', '-1', '+1', '1e3', '0x1F', '1.0', '1 2', '', '9999999999999999', '999999999999999', '18446744073709551616'];
    for (const id of [...notOurs, '7'.repeat(8000), '\xe9', '\xd9\xa3']) {
      const { answer } = await listen('GET', [serviceAuthorization, `Last-Event-ID: ${id}`]);
      const what = `Last-Event-ID ${JSON.stringify(id.length > 20 ? `${id.slice(0, 20)}…` : id)}`;
      t.match(events(answer), /^reset (revocation )*synced$/, `${what}: reset first`);
      t.equal(answer?.events[0]?.id, undefined, `${what}: the reset carries no id`);
      t.equal(answer?.events.at(-1)?.id, newest, `${what}: synced carries the newest id`);
    }
    t.equal(
      errorOf((await listen('GET', [serviceAuthorization, 'Last-Event-ID: a\x00b'])).answer),
      '400 invalid_request',
      'Last-Event-ID with NUL',
    );
    t.equal(
      errorOf((await listen('GET', [serviceAuthorization, `Last-Event-ID: ${'7'.repeat(20_000)}`])).answer),
      '431 invalid_request',
      'a 20 KB Last-Event-ID',
    );
    t.equal(
      errorOf((await listen('GET', ['Authorization: Basic Og==', 'Last-Event-ID: 1'])).answer),
      '401 invalid_client',
      'malformed Basic',
    );
    const jwtClient = clients[JWT]!;
    t.equal(
      errorOf((await listen('GET', [`Authorization: ${basic(jwtClient.id, jwtClient.secret!)}`])).answer),
      '403 unauthorized_client',
      'a client that may not introspect',
    );
    const query = `?client_id=${listener.id}&client_secret=${listener.secret}`;
    const inQuery = await streamExchange(port, Buffer.from(`GET /revocations${query} HTTP/1.1\r\nHost: x\r\n\r\n`), false, 3000);
    t.equal(errorOf(inQuery.answer), '401 invalid_client', 'credentials in the query string are not read');

    const posted = await listen(
      'POST',
      ['Last-Event-ID: abc'],
      new URLSearchParams({ client_id: listener.id, client_secret: listener.secret! }).toString(),
    );
    t.match(events(posted.answer), /^reset (revocation )*synced$/, 'client_secret_post: reset first');
    const signed = assertionFor('/revocations');
    const byAssertion = await listen('POST', [`Last-Event-ID: ${newest}`], assertionForm(signed));
    t.equal(events(byAssertion.answer), 'synced', 'private_key_jwt: synced');
    t.equal(errorOf((await listen('POST', [], assertionForm(signed))).answer), '401 invalid_client', 'the same assertion again');
    const withBasic = await listen('POST', [serviceAuthorization], assertionForm(assertionFor('/revocations')));
    t.equal(errorOf(withBasic.answer), '400 invalid_request', 'an assertion and Basic credentials');
    const edAssertion = signedAssertion(
      { kind: 'signed', signer: 'keyed-ed', names: 'keyed', aud: 'issuer', how: 'valid', extra: {} },
      world,
      '/revocations',
    );
    t.match(events((await listen('POST', [], assertionForm(edAssertion))).answer), /^(revocation )*synced$/, 'EdDSA, aud the issuer');
  });

  t.test('HEAD /revocations is answered, not left hanging', async (t) => {
    const { answer, received } = await listen('HEAD', [serviceAuthorization]);
    t.ok(answer, `an answer within 3 s (received ${JSON.stringify(received.toString('latin1').slice(0, 200))})`);
    if (answer) t.ok(answer.status === 200 || answer.status >= 400, `status ${answer.status}`);
  });

  t.test('after the fuzzing, a real private_key_jwt client still authenticates', async (t) => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const issuing = assertionFor('/token');
    const token = await app.inject({
      method: 'POST',
      url: '/token',
      headers: form,
      payload: assertionForm(issuing, { grant_type: 'client_credentials' }),
    });
    t.equal(token.statusCode, 200, `a client_credentials token: ${token.body}`);
    const accessToken = (JSON.parse(token.body) as { access_token: string }).access_token;
    const introspect = () =>
      app.inject({
        method: 'POST',
        url: '/introspect',
        headers: form,
        payload: assertionForm(assertionFor('/introspect'), { token: accessToken }),
      });
    t.match(JSON.parse((await introspect()).body), { active: true, client_id: world.ids.keyed }, 'introspected');
    const revoked = await app.inject({
      method: 'POST',
      url: '/revoke',
      headers: form,
      payload: assertionForm(assertionFor('/revoke'), { token: accessToken }),
    });
    t.equal(revoked.statusCode, 200, 'revoked');
    t.match(JSON.parse((await introspect()).body), { active: false }, 'and inactive after');
    const replayed = await app.inject({
      method: 'POST',
      url: '/token',
      headers: form,
      payload: assertionForm(issuing, { grant_type: 'client_credentials' }),
    });
    t.equal(replayed.statusCode, 401, 'its assertion is not accepted twice');
    const overHttp = await fetch(`http://127.0.0.1:${port}/token`, {
      method: 'POST',
      headers: form,
      body: assertionForm(assertionFor('/token', 'keyed-ed'), { grant_type: 'client_credentials' }),
    });
    t.equal(overHttp.status, 200, 'and over a socket, with its other key');
    await overHttp.body?.cancel();
  });
});
