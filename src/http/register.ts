// POST /register — RFC 7591 dynamic client registration, gated by an initial access token — and
// GET/PUT/DELETE /register/{client_id} — RFC 7592 management, with the registration access token
// the registration answered. The metadata and its mapping are src/oauth/registration.ts; the
// rules are the domain's, the same as `client create`'s.
import { Ajv } from 'ajv';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { AuditLog } from '../domain/audit.js';
import type { Clients } from '../domain/clients.js';
import { NoSuchError } from '../domain/errors.js';
import type { RegistrationTokens } from '../domain/registration-tokens.js';
import {
  clientInformationSchema,
  metadataFieldsOf,
  metadataOf,
  refusalOf,
  registrationOf,
  registrationRequestSchema,
  RegistrationError,
  schemaRefusal,
  updateRequestSchema,
  type ClientMetadata,
  type ClientUpdateMetadata,
} from '../oauth/registration.js';
import type { ClientRecord } from '../records.js';
import { hasOpaqueShape, INITIAL_ACCESS_TOKEN_PREFIX, REGISTRATION_TOKEN_PREFIX, tokenDigest } from '../tokens/opaque.js';
import { badTextIn, bearerToken, holdsBadText } from './params.js';
import { noteRequestParties } from './request-log.js';

export interface RegistrationServices {
  clients: Pick<Clients, 'check' | 'register' | 'update' | 'delete' | 'get' | 'authenticate'>;
  registrationTokens: Pick<RegistrationTokens, 'useInitial' | 'newRegistrationToken' | 'matchesRegistrationToken'>;
  audit: Pick<AuditLog, 'record'>;
  issuer: string;
}

/** Issued client ids are 22 characters; a longer one is nobody's (and is not looked up). */
const MAX_CLIENT_ID_LENGTH = 128;
/** What a client id may be (RFC 6749 Appendix A: VSCHAR): a decoded path segment with a NUL, say, is nobody's. */
const CLIENT_ID = new RegExp(`^[\\x20-\\x7e]{1,${MAX_CLIENT_ID_LENGTH}}$`);

/**
 * The bodies are validated strictly: no type coercion (Fastify's default would turn `"a"` into
 * `["a"]` and `5` into `"5"`), nothing removed, no defaults filled in (an update's omitted member
 * means "remove it", RFC 7592 §2.2). Unknown members stay, and are ignored (RFC 7591 §2).
 */
const ajv = new Ajv({
  coerceTypes: false,
  useDefaults: false,
  removeAdditional: false,
  allErrors: false,
  strict: true,
  allowUnionTypes: true,
});

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, error_description: { type: 'string' } },
  required: ['error', 'error_description'],
} as const;
const errors = { 400: errorSchema, 401: errorSchema, 503: errorSchema } as const;

const byId = {
  type: 'object',
  required: ['client_id'],
  properties: { client_id: { type: 'string', minLength: 1, maxLength: MAX_CLIENT_ID_LENGTH } },
} as const;

const common = {
  tags: ['registration'],
  security: [{ bearer: [] }],
};

type ById = { Params: { client_id: string } };

// ── Answers ──────────────────────────────────────────────────────────────────────────────────

/**
 * 401 invalid_token (RFC 6750 §3): without a token the challenge carries no error code (§3.1), with
 * one it says invalid_token. The same answer whatever was wrong, so that it tells nothing of
 * which tokens or clients exist (RFC 7592 §2.1).
 */
function unauthorized(reply: FastifyReply, tokenSent: boolean): FastifyReply {
  const description = tokenSent ? 'The token is not valid' : 'Send a token: Authorization: Bearer <token>';
  return reply
    .code(401)
    .header(
      'WWW-Authenticate',
      tokenSent ? `Bearer realm="tessera", error="invalid_token", error_description="${description}"` : 'Bearer realm="tessera"',
    )
    .send({ error: 'invalid_token', error_description: description });
}

function refuse(reply: FastifyReply, refusal: RegistrationError): FastifyReply {
  return reply.code(400).send({ error: refusal.error, error_description: refusal.message });
}

/** Runs `work`; a refusal of the metadata (the domain's, the RFC's) is answered 400, anything else goes on to the error handler. */
async function refusing(reply: FastifyReply, work: () => Promise<FastifyReply>): Promise<FastifyReply> {
  try {
    return await work();
  } catch (error) {
    const refusal = refusalOf(error);
    if (refusal) return refuse(reply, refusal);
    throw error;
  }
}

// ── Reading the request ──────────────────────────────────────────────────────────────────────

/** The JSON body, validated against the route's schema; a RegistrationError when it is not metadata. */
function metadataFrom<T extends ClientMetadata>(request: FastifyRequest): T {
  // RFC 7591 §3.1: the metadata is a JSON object (a form would pass the schema's types by accident).
  if (!/^application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? ''))
    throw new RegistrationError('invalid_request', 'Invalid request: send the client metadata as application/json');
  if (request.validationError) throw schemaRefusal(request.validationError);
  // Refused even in members that are ignored: no valid text holds them, and PostgreSQL refuses NUL.
  if (badTextIn(request.body, 'body', holdsBadText) !== null)
    throw new RegistrationError('invalid_request', 'Invalid request: the body holds a NUL character or invalid Unicode');
  return request.body as T;
}

// ── The routes ───────────────────────────────────────────────────────────────────────────────

export function registerRoutes(app: FastifyInstance, { clients, registrationTokens, audit, issuer }: RegistrationServices): void {
  const clientUri = (client: ClientRecord) => `${issuer}/register/${encodeURIComponent(client.id)}`;
  // Every answer here may carry a secret or a registration access token: none may be cached.
  const noStore = (_request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: null, payload: unknown) => void) => {
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    done(null, payload);
  };
  const strict = { attachValidation: true, validatorCompiler: ({ schema }: { schema: object }) => ajv.compile(schema), onSend: noStore };

  app.post(
    '/register',
    {
      ...strict,
      schema: {
        ...common,
        summary: 'Register a client (RFC 7591), with an initial access token',
        description:
          'Unknown metadata members are ignored. Refusals: 400 invalid_redirect_uri (a redirect URI that is not https, or http on a loopback host, or has a fragment) and invalid_client_metadata (anything else).',
        body: registrationRequestSchema,
        response: { 201: clientInformationSchema, ...errors },
      } as FastifySchema,
      // Before the body is read: without an initial access token of the right shape, nothing more is looked at.
      onRequest: async (request, reply) => {
        const token = bearerToken(request.headers.authorization);
        if (token === undefined || !hasOpaqueShape(token, INITIAL_ACCESS_TOKEN_PREFIX)) return unauthorized(reply, token !== undefined);
      },
    },
    (request, reply) =>
      refusing(reply, async () => {
        const initialToken = bearerToken(request.headers.authorization)!;
        const metadata = metadataFrom<ClientMetadata>(request);
        const { registration, authMethod } = registrationOf(metadata);
        // The metadata is checked in full before a use of the initial access token is counted, so
        // that a refused registration costs none of its uses (RFC 7591 leaves this open; a client
        // fixing its metadata should not burn a max_uses=1 token). Counting is then one conditional
        // UPDATE (store/initial-access-tokens.ts): of concurrent registrations no more than
        // max_uses pass it, whatever their order. A registration that passes it fails only if the
        // database does, and that use is lost. The cost of checking first: a well-formed but wrong
        // token with invalid metadata is told 400, not 401 (the rules are public; no state is touched).
        clients.check(registration);
        if (!(await registrationTokens.useInitial(initialToken))) return unauthorized(reply, true);
        const managing = registrationTokens.newRegistrationToken();
        const { client, secret } = await clients.register(registration, managing.digest);
        noteRequestParties(request, client.id);
        await audit.record({
          actor: 'register',
          action: 'client.register',
          target: client.id,
          // Names, never values; the initial access token by the same short digest its creation was recorded under.
          details: { fields: metadataFieldsOf(metadata), initial_access_token_id: tokenDigest(initialToken).slice(0, 16) },
        });
        return reply.code(201).send({
          ...metadataOf(client, authMethod),
          ...(secret !== null ? { client_secret: secret } : {}),
          registration_access_token: managing.token,
          registration_client_uri: clientUri(client),
        });
      }),
  );

  // RFC 7592: the client the registration access token is for, found before the body is read.
  // Unknown client, a client not registered here, a wrong token: one 401, alike (§2.1).
  const managed = new WeakMap<FastifyRequest, { client: ClientRecord; token: string }>();
  const authenticate = async (request: FastifyRequest<ById>, reply: FastifyReply) => {
    const token = bearerToken(request.headers.authorization);
    const id = request.params.client_id;
    if (token === undefined || !hasOpaqueShape(token, REGISTRATION_TOKEN_PREFIX) || !CLIENT_ID.test(id))
      return unauthorized(reply, token !== undefined);
    const client = await clients.get(id).catch((error: unknown) => {
      if (error instanceof NoSuchError) return null;
      throw error;
    });
    if (!client || !registrationTokens.matchesRegistrationToken(client, token)) return unauthorized(reply, true);
    noteRequestParties(request, client.id);
    managed.set(request, { client, token });
  };
  /** What the client reads of itself: its metadata, and the way back here (RFC 7592 §3). */
  const information = (client: ClientRecord, token: string, extra: object = {}) => ({
    ...extra,
    registration_access_token: token,
    registration_client_uri: clientUri(client),
  });
  /** A client deleted meanwhile (by another request, an operator) is no client: 401, as if it never was. */
  const gone = (error: unknown) => error instanceof NoSuchError;

  app.get<ById>(
    '/register/:client_id',
    {
      ...strict,
      onRequest: authenticate,
      schema: {
        ...common,
        summary: 'Read a dynamically registered client (RFC 7592 §2.1), with its registration access token',
        description: 'The client_secret is not shown again: only its digest is kept.',
        params: byId,
        response: { 200: clientInformationSchema, ...errors },
      } as FastifySchema,
    },
    async (request, reply) => {
      const { client, token } = managed.get(request)!;
      // The token the client presented is the one it has: it is answered back (§3 requires it), not kept.
      return reply.send(information(client, token, metadataOf(client)));
    },
  );

  app.put<ById>(
    '/register/:client_id',
    {
      ...strict,
      onRequest: authenticate,
      schema: {
        ...common,
        summary: 'Replace a dynamically registered client’s metadata (RFC 7592 §2.2)',
        description:
          'The whole metadata, as at registration: a member left out is removed or back to its default. client_id must be the client’s; client_secret may be left out, and if sent must be the current secret.',
        params: byId,
        body: updateRequestSchema,
        response: { 200: clientInformationSchema, ...errors },
      } as FastifySchema,
    },
    (request, reply) =>
      refusing(reply, async () => {
        const { client, token } = managed.get(request)!;
        const metadata = metadataFrom<ClientUpdateMetadata>(request);
        if (metadata.client_id !== client.id)
          throw new RegistrationError('invalid_request', 'Invalid request: client_id is not the id of the client being updated');
        // §2.2: a client_secret sent must be the current one. Only its digest is kept, but the value
        // is here to compare: it is checked as a client authentication would check it.
        if (metadata.client_secret != null) {
          const same =
            client.secretDigest !== null && (await clients.authenticate({ clientId: client.id, secret: metadata.client_secret }));
          if (!same) throw new RegistrationError('invalid_request', 'Invalid request: client_secret is not the client’s current secret');
        }
        // registration_access_token, registration_client_uri, client_id_issued_at and
        // client_secret_expires_at, which §2.2 says a client must not send, are ignored like any
        // member that is not metadata: clients that send back what they were answered still work.
        const { registration, authMethod } = registrationOf(metadata);
        let updated: { client: ClientRecord; secret: string | null };
        try {
          updated = await clients.update(client.id, registration);
        } catch (error) {
          if (gone(error)) return unauthorized(reply, true);
          throw error;
        }
        await audit.record({
          actor: `register:${client.id}`,
          action: 'client.update',
          target: client.id,
          details: { fields: metadataFieldsOf(metadata) },
        });
        // A client that now needs a secret and had none (it was public, or had keys) gets one: shown here, once.
        const secret = updated.secret !== null ? { client_secret: updated.secret } : {};
        return reply.send(information(updated.client, token, { ...metadataOf(updated.client, authMethod), ...secret }));
      }),
  );

  app.delete<ById>(
    '/register/:client_id',
    {
      ...strict,
      onRequest: authenticate,
      schema: {
        ...common,
        summary: 'Delete a dynamically registered client and every token issued to it (RFC 7592 §2.3)',
        params: byId,
        response: { 204: { type: 'null', description: 'deleted' }, ...errors },
      } as FastifySchema,
    },
    async (request, reply) => {
      const { client } = managed.get(request)!;
      try {
        await clients.delete(client.id);
      } catch (error) {
        if (gone(error)) return unauthorized(reply, true);
        throw error;
      }
      await audit.record({ actor: `register:${client.id}`, action: 'client.delete', target: client.id });
      return reply.code(204).send();
    },
  );
}
