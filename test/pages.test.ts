// The pages a person sees, rendered from their templates: every value escaped whatever a template
// does, the brand name, templates replaced from TESSERA_TEMPLATES (and refused at start when they
// are broken), the stylesheet, and the headers the pages go out with, through a real app.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../src/config.ts';
import { describeScopes, loadPages, type Pages } from '../src/http/pages.ts';
import { registerClient, startTessera } from './helpers/harness.ts';
import { pkcePair } from './helpers/pkce.ts';

/** Breaks out of an attribute, an element and a comment, in that order, if anything is not escaped. */
const HOSTILE = `"'><script>alert(1)</script><!--&amp;`;
const ESCAPED = '&#34;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--&amp;amp;';
const FORM = { action: `/authorize?${HOSTILE}`, hidden: { client_id: HOSTILE, state: HOSTILE, nonce: undefined }, csrf: HOSTILE };

/** A directory of override templates, removed when the test ends. */
function templatesDir(t: Test, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-templates-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Every page, each with hostile text wherever the endpoints put text that someone else chose. */
function everyPage(pages: Pages): Record<string, string> {
  return {
    signIn: pages.signIn({ ...FORM, clientName: HOSTILE, scopes: ['openid', HOSTILE], username: HOSTILE, error: HOSTILE }),
    consent: pages.consent({ ...FORM, clientName: HOSTILE, username: HOSTILE, scopes: describeScopes(['email', HOSTILE]) }),
    error: pages.error({ description: HOSTILE }),
    logoutConfirm: pages.logoutConfirm({ ...FORM, clientName: HOSTILE }),
    signedOut: pages.signedOut(),
  };
}

t.test('every page escapes every value: client names, usernames, scopes, errors, hidden fields, the brand', async (t) => {
  const pages = loadPages({ brandName: HOSTILE, templatesDir: null });
  for (const [name, html] of Object.entries(everyPage(pages))) {
    t.notOk(html.includes('<script'), `${name}: no script element`);
    t.notOk(html.includes(HOSTILE), `${name}: the hostile text never appears as it is`);
    t.ok(html.includes(ESCAPED), `${name}: it appears escaped`);
    t.match(html, /^<!doctype html>\n<html lang="en">/, `${name}: a document with its language`);
  }
});

t.test('the pages: brand, labels, landmarks, the alert, the forms and their fields', async (t) => {
  const pages = loadPages({ brandName: 'Acme ID', templatesDir: null });
  const signIn = pages.signIn({
    action: '/authorize',
    hidden: { client_id: 'c1', state: 'a&b', nonce: undefined },
    csrf: 'k',
    clientName: 'Notes',
    scopes: ['openid', 'notes:read'],
    username: 'alice',
    error: 'The username or password is not right.',
  });
  t.match(signIn, /<title>Sign in · Acme ID<\/title>/, 'the brand in the title');
  t.match(signIn, /<header class="banner">\n<p class="brand">Acme ID<\/p>/, 'and in the banner');
  t.match(signIn, /<main class="card">/, 'a main landmark');
  t.match(signIn, /<p class="alert" role="alert" id="error">The username or password is not right\.<\/p>/);
  t.match(signIn, /<input type="text" id="username" name="username"[^>]* value="alice" aria-describedby="error">/);
  t.match(signIn, /<label for="password">Password<\/label>\n<input type="password" id="password"[^>]* aria-describedby="error">/);
  t.match(
    signIn,
    /<input type="hidden" name="client_id" value="c1">\n<input type="hidden" name="state" value="a&amp;b">\n<input type="hidden" name="csrf" value="k">/,
    'the request carried through, then the CSRF value; an absent parameter is no field',
  );
  t.notOk(signIn.includes('name="nonce"'));
  t.match(signIn, /Access requested: Confirm who you are, notes:read/);
  const plain = pages.signIn({ action: '/authorize', hidden: {}, csrf: 'k', clientName: 'Notes', scopes: [] });
  t.notOk(plain.includes('role="alert"') || plain.includes('aria-describedby'), 'no error, no alert');
  t.notOk(plain.includes('Access requested'), 'no scopes, no list');

  const consent = pages.consent({
    action: '/authorize/consent',
    hidden: {},
    csrf: 'k',
    clientName: 'Notes',
    username: 'alice',
    scopes: describeScopes(['openid', 'profile', 'email', 'offline_access']),
  });
  t.match(consent, /<h1><strong>Notes<\/strong> wants to use your Acme ID account<\/h1>/);
  t.match(consent, /Signed in as <strong>alice<\/strong>/);
  for (const item of ['Confirm who you are', 'Your name and username', 'Your email address', 'offline_access'])
    t.match(consent, new RegExp(`<li>${item}`), `the consent page lists: ${item}`);
  t.match(consent, /<form method="post" action="\/authorize\/consent"/);
  t.match(consent, /<button type="submit" name="decision" value="deny"[^>]*>Deny<\/button>/);
  t.match(consent, /<button type="submit" name="decision" value="allow"[^>]*>Allow<\/button>/);

  const confirm = pages.logoutConfirm({ action: '/logout', hidden: { state: 's' }, csrf: 'k', clientName: 'Notes' });
  t.match(confirm, /<h1>Sign out of Acme ID\?<\/h1>/);
  t.match(confirm, /<strong>Notes<\/strong> asked to sign you out/);
  t.match(confirm, /<form method="post" action="\/logout">[\s\S]*<button type="submit" class="primary">Sign out<\/button>/);
  t.notOk(pages.logoutConfirm({ action: '/logout', hidden: {}, csrf: 'k' }).includes('asked to sign you out'), 'no client, not named');
  t.match(pages.signedOut(), /<h1>You are signed out<\/h1>[\s\S]*signed out of Acme ID/);
  t.match(pages.error({ description: 'Unknown client' }), /<p class="alert" role="alert">Unknown client<\/p>/);

  t.same(describeScopes(['openid', 'notes']), [
    { name: 'openid', description: 'Confirm who you are' },
    { name: 'notes', description: 'notes' },
  ]);
});

t.test('TESSERA_TEMPLATES: a file there replaces the built-in one of its name; the others stay', async (t) => {
  const dir = templatesDir(t, {
    'sign-in.liquid':
      "{% layout 'layout' %}{% block title %}Welcome{% endblock %}{% block content %}<h1>Welcome to {{ brand }}</h1>{% render 'legal' %}{% render 'form-fields', form: form %}{% endblock %}",
    'legal.liquid': '<p class="legal">By signing in you accept the rules of {{ brand }}.</p>',
    'tessera.css': 'body { background: rebeccapurple; }',
    'notes.txt': 'not a template: ignored',
  });
  const pages = loadPages({ brandName: 'Acme', templatesDir: dir });
  const html = pages.signIn({ action: '/authorize', hidden: { client_id: 'c' }, csrf: 'k', clientName: 'Notes', scopes: [] });
  t.match(html, /<title>Welcome · Acme<\/title>/, 'the override, in the built-in layout');
  t.match(html, /<h1>Welcome to Acme<\/h1><p class="legal">By signing in you accept the rules of Acme\.<\/p>/, 'with its own partial');
  t.match(html, /<input type="hidden" name="csrf" value="k">/, 'and a built-in partial');
  t.match(pages.signedOut(), /<h1>You are signed out<\/h1>/, 'a page not overridden is the built-in one');
  t.equal(pages.stylesheet.css, 'body { background: rebeccapurple; }', 'the stylesheet too');
});

t.test('no template can output a value unescaped, or reach beyond what it is given', async (t) => {
  const dir = templatesDir(t, {
    'error.liquid':
      '<p>{{ description | raw }}</p><p>{{ description | raw | raw }}</p>{% echo description | raw %}{% liquid echo description | raw %}',
  });
  const html = loadPages({ brandName: 'Acme', templatesDir: dir }).error({ description: HOSTILE });
  t.equal(html, `<p>${ESCAPED}</p><p>${ESCAPED}</p>${ESCAPED}${ESCAPED}`, '`raw` escapes like any other output');

  const include = templatesDir(t, { 'error.liquid': "{% include '../../../../etc/passwd' %}" });
  t.throws(
    () => loadPages({ brandName: 'Acme', templatesDir: include }),
    { message: /error\.liquid does not render: .*passwd/ },
    'no file outside them',
  );
  const prototype = templatesDir(t, { 'error.liquid': '{{ description.constructor }}' });
  t.throws(() => loadPages({ brandName: 'Acme', templatesDir: prototype }), { message: /undefined variable: description\.constructor/ });
});

t.test('a broken template stops the start, naming its file', async (t) => {
  const cases: Record<string, [string, RegExp]> = {
    'does not parse': ['{% if error %}never closed', /consent\.liquid does not parse: .*not closed/],
    'an unknown filter': ['{{ client_name | shout }}', /consent\.liquid does not parse: undefined filter: shout/],
    'an unknown variable': ['{{ client_nam }}', /consent\.liquid does not render: undefined variable: client_nam/],
    'a missing partial': ["{% render 'nowhere' %}", /consent\.liquid does not render: .*nowhere/],
  };
  for (const [what, [text, message]] of Object.entries(cases)) {
    const dir = templatesDir(t, { 'consent.liquid': text });
    const error = (() => {
      try {
        loadPages({ brandName: 'Acme', templatesDir: dir });
        return null;
      } catch (caught) {
        return caught;
      }
    })();
    t.ok(error instanceof ConfigError, `${what}: a configuration error`);
    t.match((error as Error).message, message, what);
    t.ok((error as Error).message.includes(join(dir, 'consent.liquid')), `${what}: the file's path`);
  }
  // A partial that is never rendered but does not parse is refused too.
  const partial = templatesDir(t, { 'footer.liquid': '{% for x in y %}' });
  t.throws(() => loadPages({ brandName: 'Acme', templatesDir: partial }), { message: /footer\.liquid does not parse/ });
  t.throws(() => loadPages({ brandName: 'Acme', templatesDir: join(partial, 'missing') }), {
    message: /TESSERA_TEMPLATES: cannot read the directory .*missing \(ENOENT\)/,
  });

  // Through the server's start: the app is not built.
  const broken = templatesDir(t, { 'signed-out.liquid': '{% endif %}' });
  await t.rejects(startTessera(t, { env: { TESSERA_TEMPLATES: broken } }), { message: /signed-out\.liquid does not parse/ });
});

t.test('through the app: the sign-in page with the brand, strict headers and its stylesheet', async (t) => {
  const dir = templatesDir(t, { 'tessera.css': '.brand { color: #123456; }' });
  const { app, tessera } = await startTessera(t, { env: { TESSERA_BRAND_NAME: 'Acme <ID>', TESSERA_TEMPLATES: dir } });
  const client = await registerClient(tessera, {
    name: `<img src=x onerror=alert(1)>`,
    public: true,
    redirectUris: ['https://app.example.com/cb'],
    scopes: ['notes'],
  });
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: client.id,
    redirect_uri: 'https://app.example.com/cb',
    state: `"><script>x</script>`,
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
  });
  const page = await app.inject({ method: 'GET', url: `/authorize?${query}` });
  t.equal(page.statusCode, 200);
  t.match(page.body, /<title>Sign in · Acme &lt;ID&gt;<\/title>/, 'TESSERA_BRAND_NAME, escaped');
  t.match(page.body, /continue to <strong>&lt;img src=x onerror=alert\(1\)&gt;<\/strong>/, "the client's name, escaped");
  t.match(page.body, /<input type="hidden" name="state" value="&#34;&gt;&lt;script&gt;x&lt;\/script&gt;">/, 'the state, escaped');
  t.notOk(/<script|<img/.test(page.body));
  const csp = String(page.headers['content-security-policy']);
  t.equal(
    csp,
    "default-src 'none'; style-src 'self'; img-src data:; form-action 'self' https://app.example.com; frame-ancestors 'none'; base-uri 'none'",
    'no script at all, styles only from this server',
  );
  t.equal(page.headers['cache-control'], 'no-store');
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  t.equal(page.headers['x-frame-options'], 'SAMEORIGIN', "helmet's headers too");

  const href = /<link rel="stylesheet" href="([^"]+)">/.exec(page.body)?.[1];
  t.match(href, /^\/assets\/tessera\.css\?v=[0-9a-f]{16}$/, 'the page links its stylesheet by version');
  const css = await app.inject({ method: 'GET', url: href! });
  t.equal(css.statusCode, 200);
  t.match(css.headers['content-type'], /^text\/css; charset=utf-8/);
  t.equal(css.body, '.brand { color: #123456; }', "the TESSERA_TEMPLATES directory's own stylesheet");
  t.equal(css.headers['cache-control'], 'public, max-age=31536000, immutable', 'its versioned URL is kept for good');
  const unversioned = await app.inject({ method: 'GET', url: '/assets/tessera.css?v=old' });
  t.equal(unversioned.headers['cache-control'], 'public, max-age=300', 'another version only briefly');
  const again = await app.inject({ method: 'GET', url: href!, headers: { 'if-none-match': String(css.headers.etag) } });
  t.equal(again.statusCode, 304, 'If-None-Match');
  t.equal(again.body, '');
  const twice = await app.inject({ method: 'GET', url: '/assets/tessera.css?v=a&v=b' });
  t.equal(twice.statusCode, 400, 'a parameter twice is invalid_request');
  t.equal(twice.json().error, 'invalid_request');

  const unknown = await app.inject({ method: 'GET', url: '/authorize?client_id=nobody' });
  t.equal(unknown.statusCode, 400);
  t.match(unknown.body, /<h1>Something went wrong<\/h1>\n<p class="alert" role="alert">/, 'the error page');
  t.match(String(unknown.headers['content-security-policy']), /^default-src 'none'; style-src 'self';/);
});
