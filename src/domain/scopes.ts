// Scope strings (RFC 6749 §3.3): space-separated tokens of NQCHAR without the space.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function isScopeToken(value: string): boolean {
  return SCOPE_TOKEN.test(value);
}

export function parseScope(scope: string): string[] {
  return scope.split(' ').filter((s) => s !== '');
}

export function formatScope(scopes: Iterable<string>): string {
  return [...new Set(scopes)].join(' ');
}
