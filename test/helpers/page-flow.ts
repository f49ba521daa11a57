// A browser for the page endpoints (/authorize, /logout) driven over app.inject: it keeps cookies
// as a browser does (set, replaced, removed by Max-Age=0, sent by Path), reads the forms of the
// pages it is shown and posts them back. Chromium drives the same pages in the browser tests.
import { createHash } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Test } from 'tap';
import { pkcePair } from './pkce.ts';

type Response = LightMyRequestResponse;

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&#34;': '"' };
const unescape = (text: string) => text.replace(/&(amp|lt|gt|quot|#39|#34);/g, (e) => ENTITIES[e]!);
const attribute = (tag: string, name: string) => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];

/** The hidden fields of a page's (first) form, by name. */
export function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [tag] of html.matchAll(/<input\b[^>]*>/g)) {
    if (attribute(tag, 'type') !== 'hidden') continue;
    const name = attribute(tag, 'name');
    if (name !== undefined) fields[unescape(name)] = unescape(attribute(tag, 'value') ?? '');
  }
  return fields;
}

/** Where a page's form posts. */
export function formAction(html: string): string | undefined {
  const form = /<form\b[^>]*>/.exec(html)?.[0];
  return form && attribute(form, 'action');
}

/** The query of a redirect's Location (t fails when the response is not a redirect). */
export function redirected(t: Test, res: Response, message = 'redirected'): URLSearchParams {
  t.equal(res.statusCode, 302, message);
  return new URL(String(res.headers.location ?? 'http://none/')).searchParams;
}

/** The SHA-256 hex digest the server keeps of a cookie or token value. */
export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

interface Cookie {
  value: string;
  path: string;
  /** The Set-Cookie line as the server sent it, for checking its attributes. */
  raw: string;
}

export class PageBrowser {
  /** By name and path, as a browser keeps them. */
  private readonly jar = new Map<string, Cookie>();

  constructor(private readonly app: FastifyInstance) {}

  /** The cookie's value, if the browser holds it (under any path). */
  cookie(name: string): string | undefined {
    return [...this.jar.values()].find((c) => c.raw.startsWith(`${name}=`))?.value;
  }

  /** The Set-Cookie line that set the cookie last. */
  setCookieLine(name: string): string | undefined {
    return [...this.jar.values()].find((c) => c.raw.startsWith(`${name}=`))?.raw;
  }

  /** Puts a cookie in the jar as if a server had set it (a forged or another instance's). */
  plant(name: string, value: string, path = '/'): void {
    this.jar.set(`${name} ${path}`, { value, path, raw: `${name}=${value}; Path=${path}` });
  }

  forget(name: string): void {
    for (const [key, c] of this.jar) if (c.raw.startsWith(`${name}=`)) this.jar.delete(key);
  }

  get(url: string): Promise<Response> {
    return this.send('GET', url);
  }

  /** Posts a form, as the page's submit would. */
  post(url: string, form: Record<string, string>): Promise<Response> {
    return this.send('POST', url, new URLSearchParams(form).toString());
  }

  /** Posts the page's form back: its hidden fields, then `fields` (the user's input and the button pressed). */
  submit(page: Response, fields: Record<string, string> = {}): Promise<Response> {
    const action = formAction(page.body);
    if (!action) throw new Error(`no form on the page (status ${page.statusCode})`);
    return this.post(action, { ...hiddenFields(page.body), ...fields });
  }

  private async send(method: 'GET' | 'POST', url: string, payload?: string): Promise<Response> {
    const path = new URL(url, 'http://localhost').pathname;
    const cookie = [...this.jar.values()]
      .filter((c) => c.path === '/' || path === c.path || path.startsWith(`${c.path}/`))
      .map((c) => `${c.raw.split('=')[0]}=${c.value}`)
      .join('; ');
    const res = await this.app.inject({
      method,
      url,
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(payload === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      ...(payload === undefined ? {} : { payload }),
    });
    const raw = res.headers['set-cookie'];
    for (const line of Array.isArray(raw) ? raw : raw ? [raw] : []) {
      const [pair] = line.split(';');
      const name = pair!.split('=')[0]!;
      const value = pair!.slice(name.length + 1);
      const cookiePath = /;\s*Path=([^;]*)/i.exec(line)?.[1] ?? '/';
      const key = `${name} ${cookiePath}`;
      if (/;\s*Max-Age=0\b/i.test(line) || /;\s*Expires=Thu, 01 Jan 1970/i.test(line)) this.jar.delete(key);
      else this.jar.set(key, { value, path: cookiePath, raw: line });
    }
    return res;
  }
}

/** An authorization request of the code flow with PKCE, and its verifier. */
export function authorizationRequest(clientId: string, redirectUri: string, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkcePair();
  const params = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    state: 'st-1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
  return { url: `/authorize?${new URLSearchParams(params)}`, verifier };
}
