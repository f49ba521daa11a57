// The HTML pages a person sees (sign-in, consent, errors, logout), and how they are sent: the
// endpoints (authorize.ts, end-session.ts) say what a page shows; this file says how it looks.
// PROVISIONAL: the interface is settled; the rendering below is being replaced by templates.
import type { FastifyReply } from 'fastify';
import { errorPage, loginPage, STYLE_HASH } from './login-page.js';

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

/**
 * Sends a page with its security headers: a CSP that allows no script and posts only to this
 * server (and, where a form's answer redirects there, `formTarget`'s origin: Chrome applies
 * form-action to the redirect after the post too), never cached.
 */
export function sendPage(reply: FastifyReply, status: number, html: string, formTarget?: string): FastifyReply {
  const formAction = formTarget ? `'self' ${new URL(formTarget).origin}` : `'self'`;
  return reply
    .code(status)
    .header(
      'Content-Security-Policy',
      `default-src 'none'; style-src ${STYLE_HASH}; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    )
    .header('Cache-Control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(html);
}

/** The built-in pages (provisional rendering). */
export function builtInPages(): Pages {
  return {
    signIn: (page) =>
      loginPage({ clientName: page.clientName, scope: page.scopes.join(' '), hidden: page.hidden, csrf: page.csrf, ...pick(page) }),
    consent: (page) =>
      loginPage({ clientName: page.clientName, scope: page.scopes.map((s) => s.name).join(' '), hidden: page.hidden, csrf: page.csrf }),
    error: (page) => errorPage(page.description),
    logoutConfirm: () => errorPage('Sign out?'),
    signedOut: () => errorPage('You are signed out.'),
  };
}

const pick = (page: SignInPage) => ({
  ...(page.username === undefined ? {} : { username: page.username }),
  ...(page.error === undefined ? {} : { error: page.error }),
});
