// Client secrets are generated here with 256 random bits, so a keyed fast digest (HMAC-SHA256)
// stores them safely: there is nothing to brute-force, and the client_credentials path pays no
// slow hash. The key derives from TESSERA_SECRET, so a stolen database alone does not verify.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { sameSecret } from '../tokens/constant-time.js';
import { CLIENT_SECRET_PREFIX, newOpaqueToken } from '../tokens/opaque.js';

export class ClientSecrets {
  private readonly key: KeyObject;

  constructor(key: Buffer) {
    // A KeyObject made once: createHmac with a raw Buffer would import the key on every call.
    this.key = createSecretKey(key);
  }

  generate(): { secret: string; digest: string } {
    const secret = newOpaqueToken(CLIENT_SECRET_PREFIX);
    return { secret, digest: this.digest(secret) };
  }

  digest(secret: string): string {
    return createHmac('sha256', this.key).update(secret).digest('hex');
  }

  matches(secret: string, digest: string): boolean {
    return sameSecret(this.digest(secret), digest);
  }
}
