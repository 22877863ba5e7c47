/**
 * Stream stages of the transcode engine (decrypt / encrypt / reencrypt of a backup's objects). Each holds
 * at most one 64 KiB chunk (plus the current input buffer), so an object of any size streams in bounded
 * memory.
 *
 * - HashTap: passes bytes through, counts them, optionally hashes them (SHA-256) and, when given the
 *   expected -CHECKSUM (first 4 bytes of SHA-256), fails at end of input on a mismatch - before anything
 *   downstream can finish, so the destination write is abandoned.
 * - RefuseEncrypted: fails when the input starts with the "encrypt" preamble (encrypting an
 *   already-encrypted object would bury ciphertext under ciphertext).
 * - VerifyingTee: the "verified as it is written" check of encrypt and reencrypt. It passes the new
 *   ciphertext through unchanged and also feeds it to a DecryptStream under the NEW key whose plaintext
 *   is hashed; at end of input it compares that hash with the hash of the plaintext that went INTO the
 *   EncryptStream (a HashTap upstream). Only when every chunk of the new ciphertext authenticates and
 *   decrypts back to exactly the source plaintext does the stage end cleanly; otherwise it fails and the
 *   atomic destination write never completes, so no unverified object becomes visible.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { IntegrityError, UsageError } from '../errors';
import { DecryptStream, PREAMBLE } from '../format/chunked';

export interface HashTapOptions {
  /** Compute SHA-256 of the bytes (default false: count only). */
  hash?: boolean;
  /** Expected first bytes of the SHA-256 (a -CHECKSUM); implies hash. */
  expectPrefix?: Buffer;
  /** Error to raise on a mismatch (given the actual prefix in hex). */
  onMismatch?: (actualHex: string) => Error;
  /** Called with the size of every chunk that passes. */
  onBytes?: (n: number) => void;
}

export class HashTap extends Transform {
  private readonly h: Hash | undefined;
  private result: Buffer | undefined;
  bytes = 0;

  constructor(private readonly o: HashTapOptions = {}) {
    super();
    this.h = o.hash || o.expectPrefix ? createHash('sha256') : undefined;
  }

  /** SHA-256 of everything that passed (available once the input ended). */
  get digest(): Buffer {
    if (!this.result) throw new Error('HashTap: digest read before the end of the stream');
    return this.result;
  }

  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.h?.update(data);
    this.bytes += data.length;
    this.o.onBytes?.(data.length);
    cb(null, data);
  }

  override _flush(cb: TransformCallback): void {
    if (this.h) this.result = this.h.digest();
    const want = this.o.expectPrefix;
    if (want && this.result && !this.result.subarray(0, want.length).equals(want)) {
      const got = this.result.subarray(0, want.length).toString('hex');
      return cb(this.o.onMismatch?.(got) ?? new IntegrityError(`checksum mismatch (got ${got}, expected ${want.toString('hex')})`));
    }
    cb();
  }
}

/** Fails when the stream starts with the "encrypt" preamble. */
export class RefuseEncrypted extends Transform {
  private head = Buffer.alloc(0);
  private decided = false;

  constructor(private readonly what: string) {
    super();
  }

  private refuse(): Error {
    return new UsageError(
      `${this.what} is already encrypted (it starts with the "encrypt" preamble): backup encrypt takes a cleartext backup`,
      'to change the key of an encrypted backup use `backup reencrypt`; to check it use `backup verify`',
    );
  }

  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.decided) {
      this.head = Buffer.concat([this.head, data.subarray(0, PREAMBLE.length)]);
      if (this.head.length >= PREAMBLE.length) {
        this.decided = true;
        if (this.head.subarray(0, PREAMBLE.length).equals(PREAMBLE)) return cb(this.refuse());
      }
    }
    cb(null, data);
  }

  override _flush(cb: TransformCallback): void {
    // Shorter than the preamble: cannot be an encrypted object.
    cb();
  }
}

/**
 * Passes ciphertext through and checks, at its end, that it decrypts under `key` to plaintext whose
 * SHA-256 equals `expectedPlaintextHash()` (read at end of input, when the upstream HashTap is done).
 */
export class VerifyingTee extends Transform {
  private readonly inner: DecryptStream;
  private readonly h = createHash('sha256');
  private innerError: Error | undefined;
  private readonly innerDone: Promise<void>;

  constructor(
    key: Buffer,
    private readonly expectedPlaintextHash: () => Buffer,
    private readonly what: string,
  ) {
    super();
    this.inner = new DecryptStream(key);
    this.inner.on('data', (d: Buffer) => this.h.update(d));
    this.innerDone = new Promise<void>((resolve) => {
      this.inner.on('end', () => resolve());
      this.inner.on('error', (e: Error) => {
        this.innerError ??= e;
        resolve();
      });
    });
  }

  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.innerError) return cb(this.fail(this.innerError.message));
    this.inner.write(data);
    cb(null, data);
  }

  private fail(detail: string): Error {
    return new IntegrityError(`${this.what}: the re-encrypted object did not verify before it was stored (${detail}); nothing was written for it`);
  }

  override _flush(cb: TransformCallback): void {
    this.inner.end();
    this.innerDone.then(
      () => {
        if (this.innerError) return cb(this.fail(this.innerError.message));
        const got = this.h.digest();
        let want: Buffer;
        try {
          want = this.expectedPlaintextHash();
        } catch (e) {
          return cb(e as Error);
        }
        if (!got.equals(want)) return cb(this.fail('it decrypts to different bytes than the source plaintext'));
        cb();
      },
      (e: Error) => cb(e),
    );
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.inner.destroy();
    cb(err);
  }
}
