// The HTML pages a person sees (sign-in, consent, errors, logout), and how they are sent: the
// endpoints (authorize.ts, end-session.ts) say what a page shows; the templates say how it looks.
// The templates are Liquid (LiquidJS): built in under templates/ at the root of the checkout, and
// replaceable file by file from TESSERA_TEMPLATES (docs/branding.md). They are read and compiled
// once, when the app is built, and every one is tried then, so a broken template stops the start
// instead of failing a sign-in later. Every value a template outputs is HTML-escaped, and no
// template can turn that off.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Liquid, type Template } from 'liquidjs';
import { ConfigError, type Config } from '../config.js';
import { allParams, pick } from './params.js';
import { documentationOnly } from './route-docs.js';

/** Hidden fields a form carries through unchanged (the authorization request), and its CSRF value. */
export interface FormData {
  /** Where the form posts (a path of this server). */
  action: string;
  hidden: Partial<Record<string, string>>;
  csrf: string;
}

/** A scope as the consent page lists it. */
export interface ScopeItem {
  name: string;
  /** What it lets the application do, in plain words (the scope itself when nothing better is known). */
  description: string;
}

export interface SignInPage extends FormData {
  clientName: string;
  /** The scopes asked for, as requested. */
  scopes: string[];
  username?: string;
  error?: string;
}

export interface ConsentPage extends FormData {
  clientName: string;
  scopes: ScopeItem[];
  /** Who is signed in (the username), so a person sees whose account the application gets. */
  username: string;
}

export interface ErrorPage {
  /** What went wrong, for a person. */
  description: string;
}

/** RP-initiated logout without a valid id_token_hint: ask before signing out. */
export interface LogoutConfirmPage extends FormData {
  /** The application that asked, when known. */
  clientName?: string;
}

export interface Pages {
  signIn(page: SignInPage): string;
  consent(page: ConsentPage): string;
  error(page: ErrorPage): string;
  logoutConfirm(page: LogoutConfirmPage): string;
  /** Shown after a logout that has no post_logout_redirect_uri to go back to. */
  signedOut(): string;
}

/** Where the pages' stylesheet is served (src/app.ts registers `stylesheetRoute`). */
export const STYLESHEET_PATH = '/assets/tessera.css';

/**
 * Sends a page with its security headers: a CSP that allows no script, styles only from this
 * server (the stylesheet above), images only as data: URLs (a brand's logo in its stylesheet), and
 * posts only to this server (and, where a form's answer redirects there, `formTarget`'s origin:
 * Chrome applies form-action to the redirect after the post too); never cached.
 */
export function sendPage(reply: FastifyReply, status: number, html: string, formTarget?: string): FastifyReply {
  const formAction = formTarget ? `'self' ${new URL(formTarget).origin}` : `'self'`;
  return reply
    .code(status)
    .header(
      'Content-Security-Policy',
      `default-src 'none'; style-src 'self'; img-src data:; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    )
    .header('Cache-Control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(html);
}

/** What the scopes every OpenID Connect client may ask for mean, for a person. */
const SCOPE_DESCRIPTIONS: Partial<Record<string, string>> = {
  openid: 'Confirm who you are',
  profile: 'Your name and username',
  email: 'Your email address',
};

/** The scopes as the pages list them: in plain words where known, else by name. */
export function describeScopes(scopes: readonly string[]): ScopeItem[] {
  return scopes.map((name) => ({ name, description: SCOPE_DESCRIPTIONS[name] ?? name }));
}

// ── The templates ──

const PAGE_TEMPLATES = ['sign-in', 'consent', 'error', 'logout-confirm', 'signed-out'] as const;
type PageTemplate = (typeof PAGE_TEMPLATES)[number];
const TEMPLATE_EXTENSION = '.liquid';
const STYLESHEET_FILE = 'tessera.css';

/** The built-in templates: src/http/pages.ts runs two folders below the checkout, the bundle (dist/tessera.mjs) one. */
function builtInDirectory(): string {
  for (const relative of ['../templates/', '../../templates/']) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(join(dir, 'layout.liquid'))) return dir;
  }
  throw new Error(`the built-in page templates (templates/) are missing above ${fileURLToPath(import.meta.url)}`);
}

/** A template or stylesheet as read, with the file it came from (for error messages). */
interface Source {
  file: string;
  text: string;
}

/**
 * The templates (`*.liquid`) and the stylesheet in a directory, by file name. Only plain files at
 * its top level count (symbolic links followed: a Kubernetes ConfigMap mounts its files as links).
 */
function readDirectory(dir: string, setting: string): Map<string, Source> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new ConfigError(`${setting}: cannot read the directory ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const sources = new Map<string, Source>();
  for (const name of names.filter((n) => n.endsWith(TEMPLATE_EXTENSION) || n === STYLESHEET_FILE).sort()) {
    const file = join(dir, name);
    try {
      if (statSync(file).isFile()) sources.set(name, { file, text: readFileSync(file, 'utf8') });
    } catch (error) {
      throw new ConfigError(`${setting}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return sources;
}

/** The pages' stylesheet, and the version that its URL carries (a new stylesheet, a new URL). */
export interface Stylesheet {
  css: string;
  version: string;
}

/** The values every page (and every template it renders) sees. */
interface Site {
  brand: string;
  stylesheet: string;
}

/** The Liquid engine over an in-memory set of templates: nothing is ever read from disk while serving. */
function engine(templates: Map<string, Source>, site: Site): Liquid {
  const liquid = new Liquid({
    // Layouts and partials resolve only among these files: `{% include '../…' %}` finds nothing.
    templates: Object.fromEntries([...templates].map(([name, source]) => [name, source.text])),
    extname: TEMPLATE_EXTENSION,
    globals: site,
    // Escaping is applied to every output; see `raw` below for why no template can skip it.
    outputEscape: 'escape',
    // A misspelt variable or filter is an error, found by the trial render at start.
    strictVariables: true,
    strictFilters: true,
    // Only the values handed in, never what their prototypes carry (`{{ x.constructor }}`).
    ownPropertyOnly: true,
    // Layouts and partials are parsed on first use (the trial render at start), then kept.
    cache: true,
  });
  // LiquidJS skips the output escape when the last filter is its built-in `raw` (a filter marked
  // `raw: true`); one registered as a plain function is never so marked, so `{{ x | raw }}` is
  // escaped like any other output.
  liquid.registerFilter('raw', (value: unknown) => value);
  return liquid;
}

/** The hidden fields in the order the form posts them: the request's own, then `csrf`. */
function formFields(form: FormData): { action: string; fields: { name: string; value: string }[] } {
  const fields = Object.entries(form.hidden)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => ({ name, value }));
  return { action: form.action, fields: [...fields, { name: 'csrf', value: form.csrf }] };
}

/** The pages, rendered from compiled templates. Built by `loadPages`. */
export class TemplatePages implements Pages {
  private constructor(
    private readonly liquid: Liquid,
    private readonly compiled: Record<PageTemplate, Template[]>,
    readonly stylesheet: Stylesheet,
  ) {}

  /**
   * Compiles every template, pages and partials alike (one that is never rendered is checked too);
   * a template that does not parse is a ConfigError naming its file.
   */
  static compile(templates: Map<string, Source>, stylesheet: Stylesheet, brand: string): TemplatePages {
    const liquid = engine(templates, { brand, stylesheet: `${STYLESHEET_PATH}?v=${stylesheet.version}` });
    const parsed = new Map([...templates].map(([name, source]) => [name, parseOrRefuse(liquid, source)]));
    const compiled = Object.fromEntries(
      PAGE_TEMPLATES.map((page) => {
        const pageTemplate = parsed.get(`${page}${TEMPLATE_EXTENSION}`);
        if (!pageTemplate) throw new Error(`no template for the ${page} page`);
        return [page, pageTemplate];
      }),
    ) as Record<PageTemplate, Template[]>;
    return new TemplatePages(liquid, compiled, stylesheet);
  }

  private render(page: PageTemplate, values: Record<string, unknown>): string {
    return String(this.liquid.renderSync(this.compiled[page], values));
  }

  signIn(page: SignInPage): string {
    return this.render('sign-in', {
      client_name: page.clientName,
      scopes: describeScopes(page.scopes),
      username: page.username ?? '',
      // Absent is nil, not '': in Liquid an empty string is true.
      error: page.error ?? null,
      form: formFields(page),
    });
  }

  consent(page: ConsentPage): string {
    return this.render('consent', { client_name: page.clientName, username: page.username, scopes: page.scopes, form: formFields(page) });
  }

  error(page: ErrorPage): string {
    return this.render('error', { description: page.description });
  }

  logoutConfirm(page: LogoutConfirmPage): string {
    return this.render('logout-confirm', { client_name: page.clientName ?? null, form: formFields(page) });
  }

  signedOut(): string {
    return this.render('signed-out', {});
  }
}

function parseOrRefuse(liquid: Liquid, source: Source): Template[] {
  try {
    return liquid.parse(source.text, source.file);
  } catch (error) {
    throw new ConfigError(`page template ${source.file} does not parse: ${(error as Error).message}`);
  }
}

/**
 * Renders every page once, with and without its optional parts, so that what would fail a page
 * later (an unknown variable, a missing partial or layout) fails the start now, naming the file.
 */
function tryEveryPage(pages: TemplatePages, templates: Map<string, Source>): void {
  const form = { action: '/authorize', hidden: { client_id: 'trial', state: undefined }, csrf: 'trial' };
  const trials: [PageTemplate, () => string][] = [
    ['sign-in', () => pages.signIn({ ...form, clientName: 'Trial', scopes: ['openid', 'trial'], username: 'trial', error: 'Trial' })],
    ['sign-in', () => pages.signIn({ ...form, clientName: 'Trial', scopes: [] })],
    ['consent', () => pages.consent({ ...form, clientName: 'Trial', username: 'trial', scopes: describeScopes(['openid', 'trial']) })],
    ['consent', () => pages.consent({ ...form, clientName: 'Trial', username: 'trial', scopes: [] })],
    ['error', () => pages.error({ description: 'Trial' })],
    ['logout-confirm', () => pages.logoutConfirm({ ...form, clientName: 'Trial' })],
    ['logout-confirm', () => pages.logoutConfirm(form)],
    ['signed-out', () => pages.signedOut()],
  ];
  for (const [page, render] of trials) {
    try {
      render();
    } catch (error) {
      const file = templates.get(`${page}${TEMPLATE_EXTENSION}`)?.file ?? page;
      throw new ConfigError(`page template ${file} does not render: ${(error as Error).message}`);
    }
  }
}

/**
 * The pages of this server: the built-in templates, each replaced by a file of the same name in
 * `templatesDir` (TESSERA_TEMPLATES) where there is one — a `*.liquid` file there that is not one of
 * them may be included by the others — and the brand name (TESSERA_BRAND_NAME) on every page.
 */
export function loadPages(config: Pick<Config, 'brandName' | 'templatesDir'>): TemplatePages {
  const templates = readDirectory(builtInDirectory(), 'the built-in templates');
  if (config.templatesDir !== null) {
    for (const [name, source] of readDirectory(config.templatesDir, 'TESSERA_TEMPLATES')) templates.set(name, source);
  }
  const css = templates.get(STYLESHEET_FILE)?.text ?? '';
  templates.delete(STYLESHEET_FILE);
  const version = createHash('sha256').update(css).digest('hex').slice(0, 16);
  const pages = TemplatePages.compile(templates, { css, version }, config.brandName);
  tryEveryPage(pages, templates);
  return pages;
}

// ── The stylesheet's route ──

const stylesheetSchema = {
  tags: ['meta'],
  summary: "The sign-in and consent pages' stylesheet",
  description:
    "The pages link it with `?v=` and the stylesheet's version: under that URL it is cached for a year (a changed stylesheet gets a new URL); otherwise for five minutes. A TESSERA_TEMPLATES directory may bring its own tessera.css.",
  security: [],
  querystring: {
    type: 'object',
    properties: { v: { type: 'string', description: "the stylesheet's version, as the pages link it" } },
  },
  response: {
    200: {
      description: 'The stylesheet',
      content: { 'text/css': { schema: { type: 'string' } } },
      headers: { ETag: { type: 'string' }, 'Cache-Control': { type: 'string' } },
    },
    304: { description: 'Not modified (If-None-Match)', type: 'null' },
  },
};

export function stylesheetRoute(app: FastifyInstance, stylesheet: Stylesheet): void {
  const etag = `"${stylesheet.version}"`;
  // documentationOnly: the query is read strictly below (src/http/route-docs.ts).
  app.get(STYLESHEET_PATH, { schema: stylesheetSchema, ...documentationOnly }, async (request: FastifyRequest, reply) => {
    const { v } = pick(allParams(request.query), ['v']);
    reply
      .header('Cache-Control', v === stylesheet.version ? 'public, max-age=31536000, immutable' : 'public, max-age=300')
      .header('ETag', etag);
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type('text/css; charset=utf-8').send(stylesheet.css);
  });
}
