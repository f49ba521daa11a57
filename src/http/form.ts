// Strict parsing of application/x-www-form-urlencoded bodies and query strings: broken
// percent-encoding (`%zz`, `%E0%A4%A`) and bytes that are not UTF-8 are refused, where the usual
// parsers pass them through or replace them silently. Hand-written because fast-querystring
// (Fastify's and @fastify/formbody's default) has no strict mode; decodeURIComponent does the
// checking. The parse never throws (Fastify calls the query parser where a throw would be a
// 500): a malformed input is marked, and http/params.ts refuses it with invalid_request.

export const MALFORMED = Symbol('malformed');

export type FormFields = Record<string, string | string[]> & { [MALFORMED]?: true };

/** The decoded text, or null when its percent-encoding is broken or does not decode to UTF-8. */
function decode(text: string): string | null {
  if (!text.includes('%') && !text.includes('+')) return text;
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

export function parseForm(text: string): FormFields {
  const fields = Object.create(null) as FormFields;
  // U+FFFD in the raw text: the body had bytes that are not UTF-8 (a form sends only ASCII).
  if (text.includes('\uFFFD')) {
    fields[MALFORMED] = true;
    return fields;
  }
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    const name = decode(at < 0 ? pair : pair.slice(0, at));
    const value = decode(at < 0 ? '' : pair.slice(at + 1));
    if (name === null || value === null) {
      fields[MALFORMED] = true;
      return fields;
    }
    const earlier = fields[name];
    fields[name] = earlier === undefined ? value : [...(Array.isArray(earlier) ? earlier : [earlier]), value];
  }
  return fields;
}
