// Express (and Connect) middleware, written against Node's own response methods so that it needs
// neither framework: `app.use(expressTessera({ verifier }))`, or per route with `scopes`.
import type { Auth } from './auth.js';
import { authenticate } from './http.js';
import type { Verifier } from './verifier.js';

export interface ExpressTesseraOptions {
  verifier: Verifier;
  /** Scopes every request through this middleware must carry. */
  scopes?: readonly string[];
}

interface RequestLike {
  headers: { authorization?: string | undefined };
  auth?: Auth;
}

interface ResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

export function expressTessera({
  verifier,
  scopes,
}: ExpressTesseraOptions): (request: RequestLike, response: ResponseLike, next: (error?: unknown) => void) => void {
  return (request, response, next) => {
    authenticate(verifier, request.headers.authorization, scopes).then(({ auth, refusal }) => {
      if (refusal === undefined) {
        request.auth = auth;
        return next();
      }
      response.statusCode = refusal.status;
      response.setHeader('WWW-Authenticate', refusal.wwwAuthenticate);
      response.setHeader('Content-Type', 'application/json; charset=utf-8');
      response.end(JSON.stringify(refusal.body));
    }, next);
  };
}
