/**
 * CockroachDB's encrypted file format (pkg/storage/encryption.go), in one place.
 *
 *   "encrypt" | version (1 byte) | IV (12 bytes) | chunk_0 | ... | chunk_n
 *
 * Version 2 (written): every chunk but the last is AES-256-GCM of exactly 64 KiB of plaintext
 * (65536 + 16-byte tag); the last chunk holds 0..65535 bytes, so a writer always seals a short final
 * chunk (possibly empty). The nonce of chunk i is the IV with bytes 4..11 read as a big-endian uint64 plus
 * i (mod 2^64; bytes 0..3 never change). No additional data.
 * Version 1 (read only): one GCM message over the whole plaintext.
 *
 * Readers here are strict: plaintext is released only after its chunk's tag verifies; a file whose last
 * chunk is full-size is truncation at a chunk boundary; fewer than 16 bytes of final chunk is truncation.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
  AuthenticationError,
  NotEncryptedError,
  ShortHeaderError,
  TrailingDataError,
  TruncatedError,
  UnsupportedVersionError,
} from './errors';

export const PREAMBLE = Buffer.from('encrypt', 'latin1');
export const VERSION_V1 = 1;
export const VERSION_V2 = 2;
export const IV_SIZE = 12;
export const HEADER_SIZE = PREAMBLE.length + 1 + IV_SIZE; // 20
export const TAG_SIZE = 16;
export const CHUNK_SIZE = 65536;
export const CIPHER_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE; // 65552
/** How many trailing bytes after a final chunk are searched for, when the last chunk fails. */
const TRAILING_SEARCH = 256;

/** The GCM cipher for an AES key of 16, 24 or 32 bytes (CockroachDB backups use 32-byte keys). */
export function gcmCipherName(keyLength: number): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  switch (keyLength) {
    case 16:
      return 'aes-128-gcm';
    case 24:
      return 'aes-192-gcm';
    case 32:
      return 'aes-256-gcm';
    default:
      throw new RangeError(`AES key must be 16, 24 or 32 bytes, got ${keyLength}`);
  }
}

function cipherName(key: Buffer): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  return gcmCipherName(key.length);
}

/**
 * Nonce of chunk i: IV with bytes 4..11 as a big-endian counter plus i, wrapping at 2^64 (bytes 0..3
 * never change). Done with two 32-bit halves: no BigInt on the per-chunk path.
 */
export function chunkNonce(iv: Buffer, chunk: number, out: Buffer = Buffer.allocUnsafe(IV_SIZE)): Buffer {
  if (!Number.isSafeInteger(chunk) || chunk < 0) throw new RangeError(`bad chunk index ${chunk}`);
  iv.copy(out, 0, 0, IV_SIZE);
  const addLo = chunk % 0x1_0000_0000;
  const addHi = Math.floor(chunk / 0x1_0000_0000);
  const lo = iv.readUInt32BE(8) + addLo;
  const hi = (iv.readUInt32BE(4) + addHi + (lo >= 0x1_0000_0000 ? 1 : 0)) % 0x1_0000_0000;
  out.writeUInt32BE(hi, 4);
  out.writeUInt32BE(lo % 0x1_0000_0000, 8);
  return out;
}

/** AppearsEncrypted: the object starts with the preamble. */
export function appearsEncrypted(head: Buffer): boolean {
  return head.length >= PREAMBLE.length && head.subarray(0, PREAMBLE.length).equals(PREAMBLE);
}

/** Size of the version-2 ciphertext of a plaintext of n bytes. */
export function ciphertextSize(plaintextLength: number): number {
  const full = Math.floor(plaintextLength / CHUNK_SIZE);
  return HEADER_SIZE + full * CIPHER_CHUNK_SIZE + (plaintextLength - full * CHUNK_SIZE) + TAG_SIZE;
}

/**
 * Plaintext size of a version-2 object of the given total size; throws TruncatedError (or
 * ShortHeaderError) when no valid writer produces that size.
 */
export function plaintextSize(objectSize: number): number {
  if (objectSize < HEADER_SIZE) throw new ShortHeaderError(objectSize);
  const body = objectSize - HEADER_SIZE;
  const rem = body % CIPHER_CHUNK_SIZE;
  if (rem < TAG_SIZE) {
    throw new TruncatedError(
      rem === 0
        ? `truncated at a chunk boundary: the object ends after a full chunk (${objectSize} bytes) with no final chunk`
        : `truncated inside a chunk: ${objectSize} bytes is not a valid encrypted size`,
    );
  }
  return body - TAG_SIZE * (Math.floor(body / CIPHER_CHUNK_SIZE) + 1);
}

/** Parses and checks the 20-byte (version 2) or 20-byte (version 1) header. */
export function parseHeader(head: Buffer): { version: number; iv: Buffer } {
  if (head.length < PREAMBLE.length || !appearsEncrypted(head)) {
    if (head.length < PREAMBLE.length && PREAMBLE.subarray(0, head.length).equals(head)) {
      throw new ShortHeaderError(head.length);
    }
    throw new NotEncryptedError();
  }
  if (head.length < PREAMBLE.length + 1) throw new ShortHeaderError(head.length);
  const version = head[PREAMBLE.length];
  if (version !== VERSION_V1 && version !== VERSION_V2) throw new UnsupportedVersionError(version);
  if (head.length < HEADER_SIZE) throw new ShortHeaderError(head.length);
  return { version, iv: Buffer.from(head.subarray(PREAMBLE.length + 1, HEADER_SIZE)) };
}

/** Seals one chunk: returns ciphertext||tag in a fresh buffer. */
function sealChunk(cipher: string, key: KeyObject, nonce: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv(cipher as 'aes-256-gcm', key, nonce);
  const out = Buffer.allocUnsafe(plain.length + TAG_SIZE);
  const body = c.update(plain);
  body.copy(out, 0);
  c.final();
  c.getAuthTag().copy(out, plain.length);
  return out;
}

/** Opens one chunk (ciphertext||tag); returns plaintext or undefined when the tag does not verify. */
function openChunk(cipher: string, key: KeyObject, nonce: Buffer, sealed: Buffer): Buffer | undefined {
  const n = sealed.length - TAG_SIZE;
  const d = createDecipheriv(cipher as 'aes-256-gcm', key, nonce);
  d.setAuthTag(sealed.subarray(n));
  const plain = d.update(sealed.subarray(0, n));
  try {
    d.final();
  } catch {
    return undefined;
  }
  return plain;
}

/**
 * Decrypts the last piece of a version-2 object (the bytes after the last full chunk), with strict
 * end-of-file handling. `index` is its chunk index, `offset` its byte offset in the object.
 */
function openFinal(cipher: string, key: KeyObject, iv: Buffer, index: number, offset: number, piece: Buffer): Buffer {
  if (piece.length < TAG_SIZE) {
    throw new TruncatedError(
      piece.length === 0 && index > 0
        ? `truncated at a chunk boundary: the object ends after chunk ${index - 1} with no final chunk`
        : `truncated inside chunk ${index} (byte offset ${offset}): ${piece.length} bytes where a final chunk needs at least 16`,
    );
  }
  const nonce = chunkNonce(iv, index);
  const plain = openChunk(cipher, key, nonce, piece);
  if (plain !== undefined) {
    if (piece.length === CIPHER_CHUNK_SIZE) {
      throw new TruncatedError(
        `truncated at a chunk boundary: chunk ${index} is full-size and no final chunk follows`,
      );
    }
    return plain;
  }
  // Data appended after a valid final chunk: look for a shorter final chunk that authenticates.
  const lowest = Math.max(TAG_SIZE, piece.length - TRAILING_SEARCH);
  for (let len = piece.length - 1; len >= lowest; len--) {
    if (openChunk(cipher, key, nonce, piece.subarray(0, len)) !== undefined) {
      throw new TrailingDataError(offset + len);
    }
  }
  throw new AuthenticationError(index, offset);
}

export interface EncryptOptions {
  /** Fixed IV (tests only); default: 12 random bytes. */
  iv?: Buffer;
}

/** Encrypts a whole buffer to version 2 (small objects: manifests, statistics). */
export function encryptBuffer(key: Buffer, plain: Buffer, opts: EncryptOptions = {}): Buffer {
  const cipher = cipherName(key);
  const k = createSecretKey(key);
  const iv = opts.iv ?? randomBytes(IV_SIZE);
  const out = Buffer.allocUnsafe(ciphertextSize(plain.length));
  PREAMBLE.copy(out, 0);
  out[PREAMBLE.length] = VERSION_V2;
  iv.copy(out, PREAMBLE.length + 1);
  let pos = HEADER_SIZE;
  let chunk = 0;
  const nonce = Buffer.allocUnsafe(IV_SIZE);
  for (let off = 0; ; off += CHUNK_SIZE, chunk++) {
    const end = Math.min(off + CHUNK_SIZE, plain.length);
    const final = plain.length - off < CHUNK_SIZE;
    pos += sealChunk(cipher, k, chunkNonce(iv, chunk, nonce), plain.subarray(off, end)).copy(out, pos);
    if (final) break;
  }
  return out;
}

/** Decrypts a whole encrypted object held in memory (versions 1 and 2), strictly. */
export function decryptBuffer(key: Buffer, data: Buffer): Buffer {
  const cipher = cipherName(key);
  const k = createSecretKey(key);
  const { version, iv } = parseHeader(data.subarray(0, HEADER_SIZE));
  if (version === VERSION_V1) return openV1(cipher, k, iv, data.subarray(HEADER_SIZE));
  const body = data.subarray(HEADER_SIZE);
  const parts: Buffer[] = [];
  let chunk = 0;
  let off = 0;
  const nonce = Buffer.allocUnsafe(IV_SIZE);
  while (body.length - off > CIPHER_CHUNK_SIZE) {
    const plain = openChunk(cipher, k, chunkNonce(iv, chunk, nonce), body.subarray(off, off + CIPHER_CHUNK_SIZE));
    if (plain === undefined) throw new AuthenticationError(chunk, HEADER_SIZE + off);
    parts.push(plain);
    off += CIPHER_CHUNK_SIZE;
    chunk++;
  }
  parts.push(openFinal(cipher, k, iv, chunk, HEADER_SIZE + off, body.subarray(off)));
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

function openV1(cipher: string, key: KeyObject, iv: Buffer, body: Buffer): Buffer {
  if (body.length < TAG_SIZE) {
    throw new TruncatedError(`truncated version-1 object: ${body.length} bytes of body, a tag needs 16`);
  }
  const plain = openChunk(cipher, key, iv, body);
  if (plain === undefined) throw new AuthenticationError(0, HEADER_SIZE);
  return plain;
}

/**
 * A Transform that encrypts a plaintext stream to version 2. Holds at most one chunk of plaintext
 * (plus whatever the current input buffer is).
 */
export class EncryptStream extends Transform {
  private readonly cipher: string;
  private readonly k: KeyObject;
  private readonly iv: Buffer;
  private readonly nonce = Buffer.allocUnsafe(IV_SIZE);
  private readonly pending = Buffer.allocUnsafe(CHUNK_SIZE);
  private pendingLen = 0;
  private chunk = 0;

  constructor(
    private readonly key: Buffer,
    opts: EncryptOptions = {},
  ) {
    super();
    this.cipher = cipherName(key);
    // One KeyObject per stream: importing the raw key for every 64 KiB chunk costs measurable time.
    this.k = createSecretKey(key);
    this.iv = opts.iv ?? randomBytes(IV_SIZE);
    const head = Buffer.allocUnsafe(HEADER_SIZE);
    PREAMBLE.copy(head, 0);
    head[PREAMBLE.length] = VERSION_V2;
    this.iv.copy(head, PREAMBLE.length + 1);
    this.push(head);
  }

  private seal(plain: Buffer): void {
    // Ciphertext and tag are pushed as they come (no copy into one buffer).
    const c = createCipheriv(this.cipher as 'aes-256-gcm', this.k, chunkNonce(this.iv, this.chunk++, this.nonce));
    const body = c.update(plain);
    c.final();
    if (body.length > 0) this.push(body);
    this.push(c.getAuthTag());
  }

  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let off = 0;
    // A full pending chunk is sealed only once more input proves it is not the last one.
    while (off < data.length) {
      if (this.pendingLen === CHUNK_SIZE) {
        this.seal(this.pending);
        this.pendingLen = 0;
      }
      if (this.pendingLen === 0 && data.length - off > CHUNK_SIZE) {
        this.seal(data.subarray(off, off + CHUNK_SIZE));
        off += CHUNK_SIZE;
        continue;
      }
      const n = Math.min(CHUNK_SIZE - this.pendingLen, data.length - off);
      data.copy(this.pending, this.pendingLen, off, off + n);
      this.pendingLen += n;
      off += n;
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.pendingLen === CHUNK_SIZE) {
      this.seal(this.pending);
      this.pendingLen = 0;
    }
    this.seal(this.pending.subarray(0, this.pendingLen));
    cb();
  }
}

/**
 * A Transform that decrypts versions 2 and 1. Each chunk's plaintext is pushed only after its tag
 * verifies. Memory: one chunk of ciphertext pending plus the current input buffer (version 1, legacy,
 * buffers the whole object because it is one GCM message).
 */
export class DecryptStream extends Transform {
  private readonly cipher: string;
  private readonly k: KeyObject;
  private header: Buffer | undefined = Buffer.alloc(0) as Buffer;
  private version = 0;
  private iv: Buffer = Buffer.alloc(0);
  private readonly nonce = Buffer.allocUnsafe(IV_SIZE);
  private readonly pending = Buffer.allocUnsafe(CIPHER_CHUNK_SIZE);
  private pendingLen = 0;
  private chunk = 0;
  private v1Parts: Buffer[] = [];
  /** Plaintext bytes released so far. */
  plaintextBytes = 0;

  constructor(private readonly key: Buffer) {
    super();
    this.cipher = cipherName(key);
    // One KeyObject per stream: importing the raw key for every 64 KiB chunk costs measurable time.
    this.k = createSecretKey(key);
  }

  private offsetOf(chunk: number): number {
    return HEADER_SIZE + chunk * CIPHER_CHUNK_SIZE;
  }

  private open(sealed: Buffer): void {
    const plain = openChunk(this.cipher, this.k, chunkNonce(this.iv, this.chunk, this.nonce), sealed);
    if (plain === undefined) throw new AuthenticationError(this.chunk, this.offsetOf(this.chunk));
    this.chunk++;
    this.plaintextBytes += plain.length;
    this.push(plain);
  }

  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      let off = 0;
      if (this.header !== undefined) {
        const need = HEADER_SIZE - this.header.length;
        this.header = Buffer.concat([this.header, data.subarray(0, need)]);
        off = Math.min(need, data.length);
        // Fail fast on a wrong preamble or version, even before 20 bytes arrived.
        if (this.header.length >= PREAMBLE.length + 1 || !PREAMBLE.subarray(0, this.header.length).equals(this.header)) {
          if (this.header.length < HEADER_SIZE) {
            try {
              parseHeader(this.header);
            } catch (e) {
              if (!(e instanceof ShortHeaderError)) throw e;
            }
          }
        }
        if (this.header.length < HEADER_SIZE) return cb();
        const h = parseHeader(this.header);
        this.version = h.version;
        this.iv = h.iv;
        this.header = undefined;
      }
      if (this.version === VERSION_V1) {
        if (off < data.length) this.v1Parts.push(Buffer.from(data.subarray(off)));
        return cb();
      }
      while (off < data.length) {
        // A full pending chunk is opened only once more input proves it is not the last one.
        if (this.pendingLen === CIPHER_CHUNK_SIZE) {
          this.open(this.pending);
          this.pendingLen = 0;
        }
        if (this.pendingLen === 0 && data.length - off > CIPHER_CHUNK_SIZE) {
          this.open(data.subarray(off, off + CIPHER_CHUNK_SIZE));
          off += CIPHER_CHUNK_SIZE;
          continue;
        }
        const n = Math.min(CIPHER_CHUNK_SIZE - this.pendingLen, data.length - off);
        data.copy(this.pending, this.pendingLen, off, off + n);
        this.pendingLen += n;
        off += n;
      }
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (this.header !== undefined) {
        parseHeader(this.header);
        throw new ShortHeaderError(this.header.length);
      }
      if (this.version === VERSION_V1) {
        const plain = openV1(this.cipher, this.k, this.iv, Buffer.concat(this.v1Parts));
        this.v1Parts = [];
        this.plaintextBytes += plain.length;
        this.push(plain);
        return cb();
      }
      const plain = openFinal(
        this.cipher,
        this.k,
        this.iv,
        this.chunk,
        this.offsetOf(this.chunk),
        this.pending.subarray(0, this.pendingLen),
      );
      this.plaintextBytes += plain.length;
      this.push(plain);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }
}

/** Where the random-access reader fetches ciphertext bytes from (a file, an object store range). */
export interface RangeSource {
  /** Total size of the encrypted object. */
  readonly size: number;
  /** Bytes [start, end) of the encrypted object. */
  read(start: number, end: number): Promise<Buffer>;
}

/**
 * Random access into a version-2 object: reads plaintext [a, b) fetching only the chunks it needs.
 * Version 1 objects are read whole on first use (one GCM message cannot be split).
 */
export interface ChunkedReaderOptions {
  /** Remember which chunks have been authenticated, so verifyRemaining() can finish the object. */
  trackVerified?: boolean;
}

export class ChunkedReader {
  private readonly cipher: string;
  private readonly k: KeyObject;
  private iv: Buffer | undefined;
  private version = 0;
  private v1Plain: Buffer | undefined;
  private size_ = -1;
  /** Per chunk: 1 once its tag verified (only with trackVerified). */
  private verified: Uint8Array | undefined;
  /** The last chunk opened, so sequential reads that share a boundary chunk fetch it once. */
  private cached: { index: number; plain: Buffer } | undefined;

  constructor(
    private readonly source: RangeSource,
    private readonly key: Buffer,
    private readonly opts: ChunkedReaderOptions = {},
  ) {
    this.cipher = cipherName(key);
    // One KeyObject per stream: importing the raw key for every 64 KiB chunk costs measurable time.
    this.k = createSecretKey(key);
  }

  /** Reads and checks the header; returns the plaintext size. */
  async open(): Promise<number> {
    if (this.size_ >= 0) return this.size_;
    const head = await this.source.read(0, Math.min(HEADER_SIZE, this.source.size));
    const h = parseHeader(head);
    this.iv = h.iv;
    this.version = h.version;
    if (h.version === VERSION_V1) {
      const all = await this.source.read(HEADER_SIZE, this.source.size);
      this.v1Plain = openV1(this.cipher, this.k, h.iv, all);
      this.size_ = this.v1Plain.length;
    } else {
      this.size_ = plaintextSize(this.source.size);
      if (this.opts.trackVerified) this.verified = new Uint8Array(Math.floor(this.size_ / CHUNK_SIZE) + 1);
    }
    return this.size_;
  }

  get plaintextSize(): number {
    if (this.size_ < 0) throw new Error('ChunkedReader.open() must be called first');
    return this.size_;
  }

  /** Plaintext bytes [start, end), clamped to the plaintext size. Every chunk touched is authenticated. */
  async read(start: number, end: number): Promise<Buffer> {
    const size = await this.open();
    end = Math.min(end, size);
    if (start < 0 || start > end) throw new RangeError(`bad range [${start}, ${end})`);
    if (this.v1Plain) return this.v1Plain.subarray(start, end);
    const c0 = Math.floor(start / CHUNK_SIZE);
    const c1 = end === start ? c0 : Math.floor((end - 1) / CHUNK_SIZE);
    const parts = await this.openChunks(c0, c1);
    const all = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    const skip = start - c0 * CHUNK_SIZE;
    return all.subarray(skip, skip + (end - start));
  }

  /**
   * Authenticates every chunk not authenticated yet (needs trackVerified), in reads of at most
   * `maxChunks` chunks; the plaintext is dropped. After it, the whole object is known to authenticate.
   */
  async verifyRemaining(maxChunks = 16): Promise<void> {
    await this.open();
    const v = this.verified;
    if (!v) {
      if (this.v1Plain) return;
      throw new Error('verifyRemaining() needs a ChunkedReader made with trackVerified');
    }
    for (let c = 0; c < v.length; ) {
      if (v[c]) {
        c++;
        continue;
      }
      let e = c;
      while (e + 1 < v.length && !v[e + 1] && e + 1 - c < maxChunks) e++;
      await this.openChunks(c, e);
      c = e + 1;
    }
  }

  /** Fetches and opens chunks c0..c1 (inclusive), reusing the cached boundary chunk. */
  private async openChunks(c0: number, c1: number): Promise<Buffer[]> {
    const iv = this.iv as Buffer;
    const lastChunk = Math.floor(this.size_ / CHUNK_SIZE); // index of the (short) final chunk
    const parts: Buffer[] = [];
    let first = c0;
    if (this.cached && this.cached.index === c0) {
      parts.push(this.cached.plain);
      first = c0 + 1;
    }
    if (first > c1) return parts;
    const from = HEADER_SIZE + first * CIPHER_CHUNK_SIZE;
    const to = Math.min(this.source.size, HEADER_SIZE + (c1 + 1) * CIPHER_CHUNK_SIZE);
    const ct = await this.source.read(from, to);
    if (ct.length !== to - from) {
      throw new TruncatedError(`short read: asked for ${to - from} bytes at offset ${from}, got ${ct.length}`);
    }
    const nonce = Buffer.allocUnsafe(IV_SIZE);
    for (let c = first; c <= c1; c++) {
      const a = (c - first) * CIPHER_CHUNK_SIZE;
      const sealed = ct.subarray(a, Math.min(ct.length, a + CIPHER_CHUNK_SIZE));
      const offset = from + a;
      const plain =
        c === lastChunk
          ? openFinal(this.cipher, this.k, iv, c, offset, sealed)
          : openChunk(this.cipher, this.k, chunkNonce(iv, c, nonce), sealed);
      if (plain === undefined) throw new AuthenticationError(c, offset);
      if (this.verified) this.verified[c] = 1;
      parts.push(plain);
    }
    this.cached = { index: c1, plain: parts[parts.length - 1] };
    return parts;
  }
}
