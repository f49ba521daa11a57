// The admin operations sent to a running server's admin API (`--url`, TESSERA_ADMIN_URL): the same
// AdminApi the command uses on the database, over HTTP with Node's fetch. The admin client gets
// one access token (client_credentials, scope tessera:admin) at the token endpoint the admin API's
// root document names, on the first call, and uses it for the rest of the command.
import type {
  AdminApi,
  AuditView,
  ClientView,
  ClientWithSecret,
  ConsentView,
  DjangoImportView,
  IssuedToken,
  KeyView,
  PageQuery,
  PageView,
  PruneCounts,
  RegistrationTokenView,
  RevokeResult,
  SecretRotation,
  UserView,
} from '../admin/api.js';
import { DumpError, type DumpProblem } from '../domain/django-import.js';
import { AdminError, NoSuchError } from '../domain/errors.js';
import { CliError } from './errors.js';

/** How long one request may take before the command gives up on it. */
const REQUEST_TIMEOUT_MS = 30_000;
/** An import's one transaction may take up to 15 minutes on the server (src/store/imports.ts). */
const IMPORT_TIMEOUT_MS = 16 * 60_000;

/** The admin API's root document (GET /admin/v1, no authentication). */
interface RootDocument {
  issuer: string;
  token_endpoint: string;
  version: string;
}

/** `url` as the admin listener's base: scheme, host, port (and a path prefix), without /admin/v1. */
export function adminBase(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`--url must be the admin listener's URL, e.g. http://127.0.0.1:3001, not "${url}"`, 'invalid_request');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CliError(`--url must be an http:// or https:// URL, not "${url}"`, 'invalid_request');
  }
  if (parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw new CliError(
      '--url takes no credentials, query or fragment: the admin client is TESSERA_ADMIN_CLIENT_ID and _SECRET',
      'invalid_request',
    );
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '').replace(/\/admin\/v1$/, '')}`;
}

/** RFC 6749 §2.3.1: the id and secret are form-urlencoded before they are joined and base64-encoded. */
function basic(id: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`;
}

/** The error code under `--json` for an HTTP status the admin API answered. */
function codeOf(status: number): string {
  if (status === 400 || status === 413 || status === 415 || status === 422) return 'invalid_request';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 409) return 'conflict';
  if (status === 503) return 'unavailable';
  return 'server_error';
}

export function remoteAdmin(url: string, clientId: string, secret: string): AdminApi {
  const base = adminBase(url);
  const root = `${base}/admin/v1`;
  let token: Promise<string> | undefined;

  /** fetch, with a failure to connect (or to hear back) said in one line naming the URL. */
  async function send(target: string, init: RequestInit, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Response> {
    try {
      return await fetch(target, { ...init, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const name = (error as { name?: unknown }).name;
      if (name === 'TimeoutError') throw new CliError(`no answer from ${target} within ${timeoutMs / 1000} s`, 'unavailable');
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
      const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : String(error);
      throw new CliError(`cannot reach the admin API at ${target} (${why})`, 'unavailable');
    }
  }

  async function jsonOf(response: Response, what: string): Promise<unknown> {
    const text = await response.text();
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new CliError(`${what} answered ${response.status} without JSON: is this the Tessera admin listener?`, 'server_error');
    }
  }

  async function rootDocument(): Promise<RootDocument> {
    const response = await send(root, { headers: { accept: 'application/json' } });
    const body = response.ok ? ((await jsonOf(response, root)) as Partial<RootDocument>) : undefined;
    if (!body || typeof body.token_endpoint !== 'string') {
      throw new CliError(
        `${root} is not a Tessera admin API (it answered ${response.status}): --url names the admin listener`,
        'server_error',
      );
    }
    return body as RootDocument;
  }

  async function accessToken(): Promise<string> {
    const { token_endpoint: endpoint } = await rootDocument();
    const response = await send(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: basic(clientId, secret) },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'tessera:admin' }).toString(),
    });
    const body = (await jsonOf(response, endpoint)) as { access_token?: unknown; error?: unknown; error_description?: unknown };
    if (response.ok && typeof body.access_token === 'string') return body.access_token;
    if (response.status === 401 || body.error === 'invalid_client') {
      throw new CliError(
        `the admin client's credentials were refused at ${endpoint} (TESSERA_ADMIN_CLIENT_ID, TESSERA_ADMIN_CLIENT_SECRET)`,
        'unauthorized',
      );
    }
    if (body.error === 'invalid_scope' || body.error === 'unauthorized_client') {
      throw new CliError(
        `client ${clientId} may not use the admin API: it is not an admin client (\`tessera client update ${clientId} --admin\`)`,
        'forbidden',
      );
    }
    const why = typeof body.error_description === 'string' ? body.error_description : typeof body.error === 'string' ? body.error : '';
    throw new CliError(`no admin access token from ${endpoint} (${response.status}${why ? `: ${why}` : ''})`, codeOf(response.status));
  }

  /** One admin API call: the answer's JSON, or its problem's detail as the error. */
  async function call<T>(method: string, path: string, body?: unknown, retried = false, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    const current = (token ??= accessToken());
    const headers: Record<string, string> = {
      authorization: `Bearer ${await current}`,
      accept: 'application/json, application/problem+json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const target = `${root}${path}`;
    const response = await send(target, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) }, timeoutMs);
    if (response.status === 204) return undefined as T;
    const answer = (await jsonOf(response, `${method} ${target}`)) as { detail?: unknown; title?: unknown };
    if (response.ok) return answer as T;
    // The token expired during a long command (paging through a long list): once more with a new one.
    // A 401 comes before the request is looked at, so nothing was done.
    if (response.status === 401 && !retried) {
      if (token === current) token = undefined;
      return call<T>(method, path, body, true, timeoutMs);
    }
    const detail =
      typeof answer.detail === 'string' && answer.detail !== ''
        ? answer.detail
        : `${method} ${target} answered ${response.status}${typeof answer.title === 'string' ? ` ${answer.title}` : ''}`;
    if (response.status === 404) throw new NoSuchError(detail);
    const { problems } = answer as { problems?: unknown };
    if (response.status === 400 && Array.isArray(problems))
      // The server tells at most so many problems; its detail counts them all.
      throw new DumpError(problems as DumpProblem[], Number(/^(\d+) problem/.exec(detail)?.[1] ?? problems.length));
    if (response.status === 400) throw new AdminError(detail);
    throw new CliError(detail, codeOf(response.status));
  }

  const page = (query: PageQuery) => {
    const params = new URLSearchParams();
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor !== undefined) params.set('cursor', query.cursor);
    const search = params.toString();
    return search ? `?${search}` : '';
  };
  /** A name or id as one path segment: "." and ".." would be read as a path's dots (even encoded). */
  const segment = (value: string) => {
    if (value === '' || value === '.' || value === '..') throw new AdminError(`"${value}" cannot be named in a URL: use the id instead`);
    return encodeURIComponent(value);
  };

  return {
    clients: {
      list: (query) => call<PageView<ClientView>>('GET', `/clients${page(query)}`),
      create: (body) => call<ClientWithSecret>('POST', '/clients', body),
      get: (id) => call<ClientView>('GET', `/clients/${segment(id)}`),
      update: (id, body) => call<ClientWithSecret>('PATCH', `/clients/${segment(id)}`, body),
      delete: (id) => call<void>('DELETE', `/clients/${segment(id)}`),
      rotateSecret: (id, body) => call<SecretRotation>('POST', `/clients/${segment(id)}/secret`, body),
    },
    users: {
      list: (query) => call<PageView<UserView>>('GET', `/users${page(query)}`),
      create: (body) => call<UserView>('POST', '/users', body),
      get: (user) => call<UserView>('GET', `/users/${segment(user)}`),
      update: (user, body) => call<UserView>('PATCH', `/users/${segment(user)}`, body),
      delete: (user) => call<void>('DELETE', `/users/${segment(user)}`),
      consents: (user, query) => call<PageView<ConsentView>>('GET', `/users/${segment(user)}/consents${page(query)}`),
      revokeConsent: (user, clientId) => call<void>('DELETE', `/users/${segment(user)}/consents/${segment(clientId)}`),
    },
    tokens: {
      revoke: (body) => call<RevokeResult>('POST', '/tokens/revoke', body),
      create: (body) => call<IssuedToken>('POST', '/tokens', body),
      prune: () => call<PruneCounts>('POST', '/tokens/prune', {}),
    },
    keys: {
      list: async () => (await call<{ items: KeyView[] }>('GET', '/keys')).items,
      rotate: () => call<KeyView>('POST', '/keys/rotate', {}),
      revoke: (kid) => call<{ kid: string; revoked: true }>('POST', `/keys/${segment(kid)}/revoke`, {}),
    },
    registrationTokens: {
      create: (body) => call<RegistrationTokenView>('POST', '/registration-tokens', body),
    },
    audit: {
      list: (query) => call<PageView<AuditView>>('GET', `/audit${page(query)}`),
    },
    imports: {
      django: (body) => call<DjangoImportView>('POST', '/import/django', body, false, IMPORT_TIMEOUT_MS),
    },
  };
}
