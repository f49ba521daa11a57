// The store's own errors, so that no caller needs to know Prisma's error codes.

/** A row with that key exists already (a unique constraint). */
export class AlreadyExistsError extends Error {}

/** The row to change or delete is not there (any more). */
export class NotFoundError extends Error {}

/** Runs a write, turning Prisma's "unique constraint" and "record not found" into the store's errors. */
export async function translated<T>(write: PromiseLike<T>): Promise<T> {
  try {
    return await write;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'P2002') throw new AlreadyExistsError('that already exists', { cause: error });
    if (code === 'P2025') throw new NotFoundError('not found', { cause: error });
    throw error;
  }
}
