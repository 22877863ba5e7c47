/**
 * Typed errors of the encrypted file format. Each carries the problem kind of spec/cli.md, so the
 * verify engine can report it without string matching.
 */
export type FormatProblemKind = 'not-encrypted' | 'truncated' | 'unsupported-version' | 'authentication-failed';

export abstract class FormatError extends Error {
  abstract readonly kind: FormatProblemKind;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input does not start with the "encrypt" preamble: it is plaintext. */
export class NotEncryptedError extends FormatError {
  readonly kind = 'not-encrypted' as const;
  constructor() {
    super('not encrypted: the object does not start with the "encrypt" preamble');
  }
}

/** Fewer bytes than the 20-byte header (preamble, version, IV). */
export class ShortHeaderError extends FormatError {
  readonly kind = 'truncated' as const;
  constructor(readonly length: number) {
    super(`truncated header: ${length} bytes, an encrypted object needs at least 20 (version 2) plus a 16-byte tag`);
  }
}

/** A format version other than 1 or 2. */
export class UnsupportedVersionError extends FormatError {
  readonly kind = 'unsupported-version' as const;
  constructor(readonly version: number) {
    super(`unsupported encryption format version ${version} (this tool reads versions 1 and 2)`);
  }
}

/** The ciphertext ends where it cannot: inside a chunk, or at a chunk boundary without a final chunk. */
export class TruncatedError extends FormatError {
  readonly kind = 'truncated' as const;
}

/** A chunk's GCM tag did not verify under the key. Chunk 0 failing usually means a wrong key. */
export class AuthenticationError extends FormatError {
  readonly kind = 'authentication-failed' as const;
  constructor(
    /** Chunk index (0-based). */
    readonly chunk: number,
    /** Byte offset of the chunk in the encrypted object. */
    readonly offset: number,
  ) {
    super(
      chunk === 0
        ? `chunk 0 (byte offset ${offset}) does not authenticate: wrong key, or the object is damaged at its start`
        : `chunk ${chunk} (byte offset ${offset}) does not authenticate: the object is damaged`,
    );
  }
}

/** Bytes follow the final (short) chunk. */
export class TrailingDataError extends FormatError {
  readonly kind = 'authentication-failed' as const;
  constructor(readonly offset: number) {
    super(`unexpected data after the final chunk at byte offset ${offset}`);
  }
}
