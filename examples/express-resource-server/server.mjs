// An Express API that accepts Tessera's access tokens (see README.md beside this file).
import express from 'express';
import { createVerifier, expressTessera } from '@tessera/verify';

const { TESSERA_ISSUER = 'http://localhost:3000', CLIENT_ID, CLIENT_SECRET, AUDIENCE, PORT = '4000' } = process.env;
const verifier = createVerifier({
  issuer: TESSERA_ISSUER,
  audience: AUDIENCE,
  // Without credentials, JWTs are still verified, but opaque tokens are refused and revocations go unheard.
  introspection: CLIENT_ID && CLIENT_SECRET ? { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET } : undefined,
  onError: (error) => console.warn(error.message),
});

const app = express();
app.get('/', (req, res) => res.json({ hello: 'anyone' }));
// Every route from here on needs a valid token; `scopes` asks for more on one route.
app.use(expressTessera({ verifier }));
app.get('/me', (req, res) => res.json({ sub: req.auth.sub, client_id: req.auth.client_id, scope: req.auth.scope }));
app.post('/notes', expressTessera({ verifier, scopes: ['write'] }), (req, res) => res.json({ saved: true, by: req.auth.sub }));

const server = app.listen(Number(PORT), '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${PORT}`));
process.on('SIGTERM', () => {
  verifier.close();
  server.close();
});
