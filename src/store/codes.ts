// Authorization codes (RFC 6749 §4.1), stored by digest.
import type { Db } from './database.js';

export interface AuthorizationCodeRecord {
  digest: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  scope: string;
  codeChallenge: string;
  codeChallengeMethod: string;
  expiresAt: Date;
  consumedAt: Date | null;
  grantId: string | null;
}

export class CodeStore {
  constructor(private readonly db: Db) {}

  async save(code: Omit<AuthorizationCodeRecord, 'consumedAt' | 'grantId'>): Promise<void> {
    await this.db.authorizationCode.create({ data: code });
  }

  byDigest(digest: string): Promise<AuthorizationCodeRecord | null> {
    return this.db.authorizationCode.findUnique({ where: { digest } });
  }

  /** Uses the code for `grantId`; of concurrent uses, only one gets true. */
  async consume(digest: string, grantId: string): Promise<boolean> {
    const { count } = await this.db.authorizationCode.updateMany({
      where: { digest, consumedAt: null },
      data: { consumedAt: new Date(), grantId },
    });
    return count === 1;
  }
}
