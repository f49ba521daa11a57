// The pages as a person sees them, in Debian's Chromium: sign-in (desktop and phone), consent,
// error and signed-out, reached through the real endpoints, checked for what makes them usable
// (labels, visible focus, WCAG AA contrast in light and dark mode, no sideways scrolling at 320 px)
// and photographed. `npm run screenshots` (TESSERA_SCREENSHOTS=1) writes the pictures to
// docs/screenshots/ for the README; otherwise they go to a temporary folder and are only checked.
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { callbackServer, chromiumSkip, launchChromium, listeningTessera } from './helpers/browser.ts';
import { registerClient, registerUser } from './helpers/harness.ts';
import { pkcePair } from './helpers/pkce.ts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const DESKTOP = { width: 960, height: 640 };
const PHONE = { width: 375, height: 720 };

function screenshotDir(t: Test): string {
  if (process.env.TESSERA_SCREENSHOTS === '1') {
    const dir = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    return dir;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tessera-screenshots-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The WCAG contrast ratio of each element's text against the background it stands on (the
 * nearest ancestor's opaque background), for every element on the page that holds text itself.
 * Plain JavaScript, run in the page as it is (tsx would wrap named functions in a helper that the
 * page does not have).
 */
const CONTRAST_RATIOS = `(() => {
  const rgb = (color) => (color.match(/[\\d.]+/g) || []).map(Number);
  const channel = (c) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const color = rgb(getComputedStyle(e).backgroundColor);
      if (color.length === 3 || color[3] > 0) return color;
    }
    return [255, 255, 255];
  };
  const holdsText = (e) => [...e.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== '');
  return [...document.body.querySelectorAll('*')].filter(holdsText).map((e) => {
    const a = luminance(rgb(getComputedStyle(e).color));
    const b = luminance(background(e));
    return { text: e.textContent.trim().slice(0, 40), ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05) };
  });
})()`;

/** AA for normal text (4.5:1), in both colour schemes, and no sideways scrolling on a 320 px screen. */
async function checkReadable(t: Test, page: Page, what: string): Promise<void> {
  const viewport = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 640 });
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const low = (await page.evaluate<{ text: string; ratio: number }[]>(CONTRAST_RATIOS)).filter(({ ratio }) => ratio < 4.5);
    t.same(low, [], `${what}, ${colorScheme}: every text meets WCAG AA contrast`);
    t.ok(
      await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      `${what}, ${colorScheme}: fits 320 px without scrolling sideways`,
    );
  }
  await page.emulateMedia({ colorScheme: null });
  if (viewport) await page.setViewportSize(viewport);
}

async function shoot(t: Test, page: Page, dir: string, name: string): Promise<void> {
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  const png = readFileSync(path);
  t.ok(png.length > 1000 && png.subarray(0, 8).equals(PNG_SIGNATURE), `${name}.png is a PNG (${png.length} bytes)`);
}

t.test('the pages in Chromium: usable, and photographed', { skip: chromiumSkip() }, async (t) => {
  const { tessera, issuer } = await listeningTessera(t);
  const callbacks = await callbackServer(t);
  const browser = await launchChromium(t);
  const dir = screenshotDir(t);
  const { username, password } = await registerUser(tessera, 'alice', 'correct horse battery staple');
  const redirectUri = `${callbacks}/callback`;
  const notes = await registerClient(tessera, {
    name: 'Example Notes',
    public: true,
    consent: true,
    redirectUris: [redirectUri],
    scopes: ['openid', 'profile', 'email', 'notes:read'],
  });
  const authorize = `${issuer}/authorize?${new URLSearchParams({
    response_type: 'code',
    client_id: notes.id,
    redirect_uri: redirectUri,
    scope: 'openid profile email notes:read',
    state: 'st4te',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
  })}`;

  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  await page.goto(authorize);
  t.equal(await page.title(), 'Sign in · Tessera', 'the title names the page and the brand');
  t.equal(await page.locator('html').getAttribute('lang'), 'en');
  t.equal(await page.getByRole('banner').textContent(), '\nTessera\n', 'the brand in the banner');
  t.equal(await page.getByRole('main').getByRole('heading', { level: 1 }).textContent(), 'Sign in');
  await shoot(t, page, dir, 'sign-in');

  // Focus is visible: the username field has it first, Tab moves through the form to the button.
  const outline = () => page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
  t.equal(await page.evaluate(() => document.activeElement?.id), 'username', 'focus starts in the username field');
  t.equal(await outline(), 'solid', 'with a visible outline');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Sign in', 'Tab reaches the button');
  t.equal(await outline(), 'solid', 'and shows it');

  const phone = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const phonePage = await phone.newPage();
  await phonePage.goto(authorize);
  await shoot(t, phonePage, dir, 'sign-in-phone');
  await phone.close();
  await checkReadable(t, page, 'the sign-in page');

  // A wrong password: the alert, tied to the fields it is about.
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  t.equal(await page.getByLabel('Password').getAttribute('aria-describedby'), 'error', 'the error describes the fields');
  t.equal(await page.getByLabel('Username').inputValue(), username, 'the username is kept');
  await checkReadable(t, page, 'the sign-in page with an error');

  // The consent page, after signing in: the scopes in words, who is signed in, Allow and Deny.
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForURL(/\/authorize/), page.getByRole('button', { name: 'Sign in' }).click()]);
  await page.getByRole('button', { name: 'Allow' }).waitFor();
  t.equal(await page.title(), 'Allow Example Notes? · Tessera');
  t.same(await page.getByRole('list', { name: 'Example Notes asks for' }).getByRole('listitem').allTextContents(), [
    'Confirm who you are openid',
    'Your name and username profile',
    'Your email address email',
    'notes:read',
  ]);
  t.match(await page.getByRole('main').textContent(), /Signed in as alice/);
  await shoot(t, page, dir, 'consent');
  await checkReadable(t, page, 'the consent page');
  await Promise.all([page.waitForURL(`${redirectUri}?**`), page.getByRole('button', { name: 'Allow' }).click()]);
  t.ok(new URL(page.url()).searchParams.get('code'), 'Allow: back to the application with a code');

  // An error page: a request that cannot go back to any application.
  const unknownClient = `${issuer}/authorize?client_id=nobody&response_type=code`;
  await page.goto(unknownClient);
  t.equal(await page.getByRole('alert').isVisible(), true, 'the error is an alert');
  await shoot(t, page, dir, 'error');
  await checkReadable(t, page, 'the error page');

  // Signing out without an ID token hint: confirm, then the signed-out page.
  await page.goto(`${issuer}/logout`);
  t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign out of Tessera?');
  await Promise.all([page.waitForURL(`${issuer}/logout`), page.getByRole('button', { name: 'Sign out' }).click()]);
  await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
  await shoot(t, page, dir, 'signed-out');
  await checkReadable(t, page, 'the signed-out page');
  await context.close();
});
