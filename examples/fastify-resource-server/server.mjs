// A Fastify API that accepts Tessera's access tokens (see README.md beside this file).
import Fastify from 'fastify';
import { createVerifier, fastifyTessera } from '@tessera/verify';

const { TESSERA_ISSUER = 'http://localhost:3000', CLIENT_ID, CLIENT_SECRET, AUDIENCE, PORT = '4000' } = process.env;
const app = Fastify({ logger: true });
const verifier = createVerifier({
  issuer: TESSERA_ISSUER,
  audience: AUDIENCE,
  // Without credentials, JWTs are still verified, but opaque tokens are refused and revocations go unheard.
  introspection: CLIENT_ID && CLIENT_SECRET ? { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET } : undefined,
  onError: (error) => app.log.warn(error.message),
});
app.addHook('onClose', async () => verifier.close());

// Every route needs a valid token unless it says `public: true`; `scopes` asks for more.
await app.register(fastifyTessera, { verifier });
app.get('/', { config: { public: true } }, async () => ({ hello: 'anyone' }));
app.get('/me', async (request) => ({ sub: request.auth.sub, client_id: request.auth.client_id, scope: request.auth.scope }));
app.post('/notes', { config: { scopes: ['write'] } }, async (request) => ({ saved: true, by: request.auth.sub }));

await app.listen({ port: Number(PORT), host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close());
