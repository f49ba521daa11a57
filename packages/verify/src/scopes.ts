// Scope checks on a verified token.

/** True when the token was granted every one of `scopes` (an empty list always passes). */
export function hasScopes(auth: { readonly scope: readonly string[] }, scopes: readonly string[]): boolean {
  return scopes.every((scope) => auth.scope.includes(scope));
}

/** A `scope` claim (space-separated, RFC 6749 §3.3) as a list. */
export function scopeList(scope: string | undefined): string[] {
  return scope === undefined ? [] : scope.split(' ').filter((s) => s !== '');
}
