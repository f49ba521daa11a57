// The HTML of the sign-in page and of the error page shown when a request cannot be sent back to
// its client. Plain HTML that works without JavaScript; every value is escaped.
import { createHash } from 'node:crypto';

const STYLE = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#f3f4f6;color:#111827;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:100%;max-width:24rem;margin:1rem;padding:2rem;background:#fff;border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{margin:0 0 .25rem;font-size:1.5rem}
p.lead{margin:0 0 1.5rem;color:#4b5563}
label{display:block;margin:1rem 0 .25rem;font-weight:600}
input[type=text],input[type=password]{width:100%;padding:.6rem .75rem;border:1px solid #9ca3af;border-radius:.375rem;font:inherit}
input:focus,button:focus{outline:3px solid #2563eb;outline-offset:1px}
button{margin-top:1.5rem;width:100%;padding:.7rem;border:0;border-radius:.375rem;background:#1d4ed8;color:#fff;font:inherit;font-weight:600;cursor:pointer}
button:hover{background:#1e40af}
.error{margin:0 0 1rem;padding:.75rem;border-radius:.375rem;background:#fef2f2;color:#991b1b;border:1px solid #fecaca}
.scope{margin:1rem 0 0;font-size:.875rem;color:#4b5563}
`;

/** For the Content-Security-Policy: the one inline style this page has, by hash. */
export const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

export interface LoginPageOptions {
  clientName: string;
  scope: string;
  /** The authorization request, carried through the form unchanged. */
  hidden: Partial<Record<string, string>>;
  csrf: string;
  username?: string;
  error?: string;
}

export function loginPage(options: LoginPageOptions): string {
  const hidden = Object.entries({ ...options.hidden, csrf: options.csrf })
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  const error = options.error ? `<p class="error" role="alert" id="error">${escapeHtml(options.error)}</p>` : '';
  const described = options.error ? ' aria-describedby="error"' : '';
  return page(
    'Sign in',
    `<h1>Sign in</h1>
<p class="lead">to continue to <strong>${escapeHtml(options.clientName)}</strong></p>
${error}
<form method="post" action="/authorize">
${hidden}
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="${escapeHtml(options.username ?? '')}"${described}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${described}>
<button type="submit">Sign in</button>
</form>
${options.scope ? `<p class="scope">Access requested: ${escapeHtml(options.scope)}</p>` : ''}`,
  );
}

export function errorPage(description: string): string {
  return page(
    'Sign-in error',
    `<h1>This sign-in link does not work</h1>\n<p class="error" role="alert">${escapeHtml(description)}</p>\n<p>Go back to the application and try again.</p>`,
  );
}
