/**
 * CockroachDB's passphrase KDF for backups: PBKDF2-HMAC-SHA256, 64000 iterations, 32-byte key, over the
 * UTF-8 bytes of the passphrase and the 16-byte salt kept in ENCRYPTION-INFO.
 */
import { pbkdf2, randomBytes } from 'node:crypto';

export const KDF_ITERATIONS = 64000;
export const KDF_KEY_LENGTH = 32;
export const SALT_LENGTH = 16;

/** Derives the 32-byte backup data key from a passphrase and salt (runs on the thread pool). */
export function deriveKeyFromPassphrase(passphrase: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(passphrase, 'utf8'), salt, KDF_ITERATIONS, KDF_KEY_LENGTH, 'sha256', (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** A new random 16-byte salt, as CockroachDB generates for a passphrase backup. */
export function generateSalt(): Buffer {
  return randomBytes(SALT_LENGTH);
}
