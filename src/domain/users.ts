// People: registration, password checks, and the changes that end their tokens.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page, UserRecord } from '../records.js';
import type { LoadingCache } from '../store/read-cache.js';
import type { ThrottleStore } from '../store/throttle.js';
import type { UserChange, UserStore } from '../store/users.js';
import { djangoCostSignature } from './django-passwords.js';
import { AdminError, NoSuchError, pageOrRefuse, written } from './errors.js';
import { LoginThrottle } from './throttle.js';
import { checkPasswordPolicy, hashPassword, needsRehash, verifyPassword, MAX_PASSWORD_LENGTH, PasswordCheckGate } from './passwords.js';

const USERNAME = /^[^\s\x00-\x1f\x7f]{1,128}$/u;
const EMAIL = /^[^\s@\x00-\x1f\x7f]{1,64}@[^\s@\x00-\x1f\x7f]{1,255}$/;
/** A role or group name: printable, without control characters (spaces are allowed). */
const LABEL = /^[^\x00-\x1f\x7f]{1,100}$/u;
const MAX_LABELS = 100;

/** A user's profile as the admin command and the admin API give it. */
export interface UserProfile {
  email?: string | null;
  name?: string | null;
  emailVerified?: boolean;
  roles?: string[];
  groups?: string[];
}

/** Every change the admin may make to a user. */
export interface UserUpdate extends UserProfile {
  active?: boolean;
  password?: string;
}

function labels(values: string[] | undefined, what: string): string[] | undefined {
  if (values === undefined) return undefined;
  const unique = [...new Set(values)];
  if (unique.length > MAX_LABELS) throw new AdminError(`at most ${MAX_LABELS} ${what}`);
  for (const value of unique)
    if (!LABEL.test(value) || value.trim() !== value) throw new AdminError(`invalid ${what.slice(0, -1)} "${value}"`);
  return unique;
}

export function checkUsername(username: string): void {
  if (!USERNAME.test(username)) throw new AdminError('username must be 1 to 128 characters, without spaces or control characters');
}

/** The profile checked, in the form the store keeps; absent fields stay absent. */
export function checkedProfile(profile: UserProfile): UserChange {
  const { email, name, emailVerified } = profile;
  if (email != null && !EMAIL.test(email)) throw new AdminError(`not an email address: "${email}"`);
  if (name != null && (name.trim() === '' || name.length > 200 || /[\x00-\x1f\x7f]/.test(name)))
    throw new AdminError('name must be 1 to 200 characters without control characters');
  const change: UserChange = {};
  if (email !== undefined) change.email = email;
  if (name !== undefined) change.name = name;
  if (emailVerified !== undefined) change.emailVerified = emailVerified;
  const roles = labels(profile.roles, 'roles');
  const groups = labels(profile.groups, 'groups');
  if (roles) change.roles = roles;
  if (groups) change.groups = groups;
  return change;
}

export class Users {
  private readonly throttle: LoginThrottle;
  private readonly passwordChecks = new PasswordCheckGate();
  /** How long a failed sign-in's password check is made to last (see measureFailureFloor). */
  private failureFloorMs = 0;

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

  async create(username: string, email: string | undefined, password: string, profile: UserProfile = {}): Promise<UserRecord> {
    checkUsername(username);
    const checked = checkedProfile({ ...profile, email: email ?? profile.email ?? null });
    checkPasswordPolicy(password);
    if (await this.store.byUsername(username)) throw new AdminError(`user "${username}" already exists`);
    return written(
      this.store.create({ id: randomUUID(), username, ...checked, passwordHash: await hashPassword(password) }),
      `user "${username}"`,
    );
  }

  /**
   * Applies every part of the change, checked first as a whole so that a refused change changes
   * nothing. Deactivation and a new password end the user's tokens (see setActive, setPassword).
   */
  async update(username: string, change: UserUpdate): Promise<UserRecord> {
    const { active, password, ...profile } = change;
    const checked = checkedProfile(profile);
    if (password !== undefined) checkPasswordPolicy(password);
    const user = await this.get(username);
    const what = `user "${username}"`;
    if (Object.keys(checked).length > 0) await written(this.store.update(user.id, checked), what);
    if (password !== undefined) await written(this.store.setPassword(user.id, await hashPassword(password)), what);
    if (active !== undefined && active !== user.active)
      await written(active ? this.store.activate(user.id) : this.store.deactivate(user.id), what);
    return this.get(username);
  }

  /** The user with this id or, failing that, this username (the admin API takes either), or a NoSuchError. */
  async find(idOrUsername: string): Promise<UserRecord> {
    const user = idOrUsername.length <= 128 ? ((await this.store.byId(idOrUsername)) ?? (await this.store.byUsername(idOrUsername))) : null;
    if (!user) throw new NoSuchError(`no user "${idOrUsername}"`);
    return user;
  }

  /** A page of users in creation order. */
  page(limit: number, cursor?: string): Promise<Page<UserRecord>> {
    return pageOrRefuse(this.store.page(limit, cursor));
  }

  /**
   * The user whose credentials these are, or null. Unknown user, inactive user and wrong
   * password cost the same Argon2 verification and give the same answer.
   */
  async authenticate(username: string, password: string): Promise<UserRecord | null> {
    return (await this.check(username, password)).user;
  }

  /** authenticate, and how long the password verification alone took. */
  private async check(username: string, password: string): Promise<{ user: UserRecord | null; verifyMs: number }> {
    const user = password.length <= MAX_PASSWORD_LENGTH ? await this.store.byUsername(username) : null;
    const started = performance.now();
    const ok = await verifyPassword(user?.passwordHash, password.slice(0, MAX_PASSWORD_LENGTH));
    const verifyMs = performance.now() - started;
    if (!ok || !user?.active) return { user: null, verifyMs };
    // An imported (Django) hash is replaced by our own at the first sign-in that proves the password.
    if (needsRehash(user.passwordHash)) await this.store.upgradePasswordHash(user.id, user.passwordHash, await hashPassword(password));
    return { user, verifyMs };
  }

  /**
   * Times one check of each kind of imported hash still awaiting its upgrade (a kind: the
   * algorithm and its cost parameters), so that every failed sign-in lasts as long as the slowest:
   * an imported hash costs what its own parameters say (bcrypt, or PBKDF2 at a million iterations,
   * takes ten times Argon2's 25 ms), and without this a failure's time would tell an imported
   * user's name from an unknown one. Run when a server starts and after every import.
   */
  /** How long, in ms, a failed sign-in's password check is made to last now. */
  get failureFloor(): number {
    return this.failureFloorMs;
  }

  async measureFailureFloor(): Promise<void> {
    const kinds = new Map<string, string>();
    for await (const hash of this.store.foreignPasswordHashes()) {
      const kind = djangoCostSignature(hash);
      if (kind !== null && !kinds.has(kind)) kinds.set(kind, hash);
    }
    let slowest = 0;
    for (const hash of kinds.values()) {
      const started = performance.now();
      await verifyPassword(hash, 'not the password');
      slowest = Math.max(slowest, performance.now() - started);
    }
    this.failureFloorMs = slowest;
  }

  /**
   * A sign-in from `address` (login form, password grant): throttled per username and address
   * (ThrottledError while either is blocked, even for the right password), and waiting for one of
   * the bounded password-check slots (UnavailableError when too many are waiting).
   */
  async signIn(username: string, password: string, address: string): Promise<UserRecord | null> {
    let verifyMs = 0;
    const user = await this.passwordChecks.run(() =>
      this.throttle.attempt(username, address, async () => {
        const checked = await this.check(username, password);
        verifyMs = checked.verifyMs;
        return checked.user;
      }),
    );
    // Padded after the check's slot is given back: the wait costs nothing but the request's time.
    if (!user) await sleep(Math.max(0, this.failureFloorMs - verifyMs));
    return user;
  }

  async get(username: string): Promise<UserRecord> {
    const user = await this.store.byUsername(username);
    if (!user) throw new NoSuchError(`no user "${username}"`);
    return user;
  }

  list(): Promise<UserRecord[]> {
    return this.store.list();
  }

  /** Deactivation is final for what the user held: activating them again revives no token. */
  async setActive(username: string, active: boolean): Promise<UserRecord> {
    const user = await this.get(username);
    await written(active ? this.store.activate(user.id) : this.store.deactivate(user.id), `user "${username}"`);
    return { ...user, active };
  }

  async setPassword(username: string, password: string): Promise<void> {
    checkPasswordPolicy(password);
    const user = await this.get(username);
    await written(this.store.setPassword(user.id, await hashPassword(password)), `user "${username}"`);
  }

  async revokeEverything(username: string): Promise<void> {
    await written(this.store.revokeEverything((await this.get(username)).id), `user "${username}"`);
  }

  async delete(username: string): Promise<void> {
    await written(this.store.delete((await this.get(username)).id), `user "${username}"`);
  }
}
