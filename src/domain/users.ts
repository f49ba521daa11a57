// People: registration, password checks, and the changes that end their tokens.
import { randomUUID } from 'node:crypto';
import type { UserRecord } from '../records.js';
import type { LoadingCache } from '../store/read-cache.js';
import type { ThrottleStore } from '../store/throttle.js';
import type { UserStore } from '../store/users.js';
import { AdminError } from './errors.js';
import { LoginThrottle } from './throttle.js';
import { checkPasswordPolicy, hashPassword, verifyPassword, MAX_PASSWORD_LENGTH, PasswordCheckGate } from './passwords.js';

const USERNAME = /^[^\s\x00-\x1f\x7f]{1,128}$/u;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export class Users {
  private readonly throttle: LoginThrottle;
  private readonly passwordChecks = new PasswordCheckGate();

  constructor(
    private readonly store: UserStore,
    throttleStore: ThrottleStore,
    private readonly cached: LoadingCache<UserRecord | null>,
  ) {
    this.throttle = new LoginThrottle(throttleStore);
  }

  /** The user, if they exist and may use their tokens (read through the cache: grants ask on every refresh). */
  async activeById(id: string): Promise<UserRecord | null> {
    const user = await this.cached.get(id);
    return user?.active ? user : null;
  }

  async create(username: string, email: string | undefined, password: string): Promise<UserRecord> {
    if (!USERNAME.test(username)) throw new AdminError('username must be 1 to 128 characters, without spaces or control characters');
    if (email !== undefined && !EMAIL.test(email)) throw new AdminError(`not an email address: "${email}"`);
    checkPasswordPolicy(password);
    if (await this.store.byUsername(username)) throw new AdminError(`user "${username}" already exists`);
    return this.store.create({ id: randomUUID(), username, email: email ?? null, passwordHash: await hashPassword(password) });
  }

  /**
   * The user whose credentials these are, or null. Unknown user, inactive user and wrong
   * password cost the same Argon2 verification and give the same answer.
   */
  async authenticate(username: string, password: string): Promise<UserRecord | null> {
    const user = password.length <= MAX_PASSWORD_LENGTH ? await this.store.byUsername(username) : null;
    const ok = await verifyPassword(user?.passwordHash, password.slice(0, MAX_PASSWORD_LENGTH));
    return ok && user?.active ? user : null;
  }

  /**
   * A sign-in from `address` (login form, password grant): throttled per username and address
   * (ThrottledError while either is blocked, even for the right password), and waiting for one of
   * the bounded password-check slots (UnavailableError when too many are waiting).
   */
  signIn(username: string, password: string, address: string): Promise<UserRecord | null> {
    return this.passwordChecks.run(() => this.throttle.attempt(username, address, () => this.authenticate(username, password)));
  }

  async get(username: string): Promise<UserRecord> {
    const user = await this.store.byUsername(username);
    if (!user) throw new AdminError(`no user "${username}"`);
    return user;
  }

  list(): Promise<UserRecord[]> {
    return this.store.list();
  }

  /** Deactivation is final for what the user held: activating them again revives no token. */
  async setActive(username: string, active: boolean): Promise<UserRecord> {
    const user = await this.get(username);
    await (active ? this.store.activate(user.id) : this.store.deactivate(user.id));
    return { ...user, active };
  }

  async setPassword(username: string, password: string): Promise<void> {
    checkPasswordPolicy(password);
    const user = await this.get(username);
    await this.store.setPassword(user.id, await hashPassword(password));
  }

  async revokeEverything(username: string): Promise<void> {
    await this.store.revokeEverything((await this.get(username)).id);
  }

  async delete(username: string): Promise<void> {
    await this.store.delete((await this.get(username)).id);
  }
}
