/**
 * File CMEK: `file:///path/to/store.key`, a CockroachDB store-key file as written by
 * `cockroach gen encryption-key -s 128|192|256 FILE`: a 32-byte key ID followed by the 16/24/32-byte
 * AES key (48, 56 or 64 bytes in all). The key ID as text is the hex of the first 32 bytes.
 *
 * Wrapped secret (the envelope), all integers big-endian:
 *
 *   offset  size  field
 *   0       4     magic "CMKF"
 *   4       1     envelope version (1)
 *   5       32    key ID of the file key that sealed it
 *   37      12    nonce (fresh random per call)
 *   49      n     AES-GCM ciphertext of the secret (AES-128/192/256 after the file key's size)
 *   49+n    16    GCM tag
 *
 * GCM additional data = bytes 0..36 (magic | version | key ID) followed by the caller's `aad`, if any:
 * the header is fixed-size, so the concatenation is unambiguous, and neither the version nor the key ID
 * nor the caller's binding can be changed without failing authentication.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KeyError, UsageError } from '../errors';
import type { KmsProvider } from './provider';
import { parseKmsUri, type KmsUri } from './uri';
import { KmsRefusedError } from './kms-error';

export const FILE_CMEK_MAGIC = Buffer.from('CMKF', 'ascii');
export const FILE_CMEK_VERSION = 1;
const HEADER = 4 + 1 + 32;
const NONCE = 12;
const TAG = 16;

export const FILE_CMEK_PARAMS = [] as const;

/** Reads and checks a store-key file; KeyError when it is missing or has the wrong size. */
export function readStoreKeyFile(file: string): { keyId: Buffer; key: Buffer } {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new KeyError(`file CMEK ${file} cannot be read: ${code}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (![48, 56, 64].includes(buf.length)) {
    throw new KeyError(
      `file CMEK ${file} is not a store key file: ${buf.length} bytes, expected 48, 56 or 64 (32-byte key ID + AES-128/192/256 key)`,
      'make one with `cockroach gen encryption-key -s 256 FILE` or `crdb-cmek keys generate`',
    );
  }
  return { keyId: buf.subarray(0, 32), key: buf.subarray(32) };
}

export class FileCmekProvider implements KmsProvider {
  readonly provider = 'file';
  readonly keyId: string;
  readonly displayUri: string;
  readonly file: string;
  /** AES key size in bits (128, 192, 256). */
  readonly keyBits: number;
  private readonly rawKeyId: Buffer;
  private readonly key: Buffer;

  constructor(uri: string | KmsUri, opts: { cwd?: string } = {}) {
    const u = typeof uri === 'string' ? parseFileUri(uri) : uri;
    if (u.scheme !== 'file') throw new UsageError(`not a file CMEK URI: ${u.displayUri}`);
    if (u.host && u.host !== 'localhost') throw new UsageError(`file CMEK URIs name a local file: file:///path (got host ${u.host})`);
    if (!u.path || u.path === '/') throw new UsageError('file CMEK URI names no file', 'file:///path/to/store.key');
    this.file = path.resolve(opts.cwd ?? process.cwd(), u.path);
    this.displayUri = u.displayUri;
    const { keyId, key } = readStoreKeyFile(this.file);
    this.rawKeyId = Buffer.from(keyId);
    this.key = Buffer.from(key);
    this.keyId = this.rawKeyId.toString('hex');
    this.keyBits = this.key.length * 8;
  }

  async encrypt(plaintext: Buffer, aad?: Buffer): Promise<Buffer> {
    const header = Buffer.concat([FILE_CMEK_MAGIC, Buffer.from([FILE_CMEK_VERSION]), this.rawKeyId]);
    const nonce = crypto.randomBytes(NONCE);
    const c = crypto.createCipheriv(`aes-${this.keyBits}-gcm` as crypto.CipherGCMTypes, this.key, nonce);
    c.setAAD(aad ? Buffer.concat([header, aad]) : header);
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    return Buffer.concat([header, nonce, ct, c.getAuthTag()]);
  }

  async decrypt(envelope: Buffer, aad?: Buffer): Promise<Buffer> {
    if (envelope.length < HEADER + NONCE + TAG || !envelope.subarray(0, 4).equals(FILE_CMEK_MAGIC)) {
      throw this.refused('decrypt', 'InvalidCiphertext', 'not a file-CMEK envelope');
    }
    const version = envelope[4];
    if (version !== FILE_CMEK_VERSION) throw this.refused('decrypt', 'UnsupportedVersion', `envelope version ${version}, this tool reads ${FILE_CMEK_VERSION}`);
    const sealedBy = envelope.subarray(5, HEADER);
    if (!sealedBy.equals(this.rawKeyId)) {
      throw this.refused('decrypt', 'IncorrectKey', `the envelope was sealed by key ${sealedBy.toString('hex')}`);
    }
    const nonce = envelope.subarray(HEADER, HEADER + NONCE);
    const ct = envelope.subarray(HEADER + NONCE, envelope.length - TAG);
    const d = crypto.createDecipheriv(`aes-${this.keyBits}-gcm` as crypto.CipherGCMTypes, this.key, nonce);
    const header = envelope.subarray(0, HEADER);
    d.setAAD(aad ? Buffer.concat([header, aad]) : header);
    d.setAuthTag(envelope.subarray(envelope.length - TAG));
    try {
      return Buffer.concat([d.update(ct), d.final()]);
    } catch {
      throw this.refused('decrypt', 'AuthenticationFailed', 'wrong key material, damaged envelope, or different additional data');
    }
  }

  private refused(op: string, reason: string, detail: string): KmsRefusedError {
    return new KmsRefusedError({ provider: this.provider, keyId: this.keyId, displayUri: this.displayUri, op, reason, detail, secrets: [] });
  }
}

/** `file:///abs/path`, `file://localhost/abs/path`, or `file:relative/path`. */
function parseFileUri(uri: string): KmsUri {
  if (/^file:(?!\/\/)/i.test(uri)) {
    const rel = uri.slice(5).split('?')[0];
    if (uri.includes('?')) parseKmsUri(`file:///x${uri.slice(uri.indexOf('?'))}`, FILE_CMEK_PARAMS);
    return { raw: uri, scheme: 'file', host: '', path: decodeURIComponent(rel), params: new Map(), displayUri: uri, secrets: [] };
  }
  return parseKmsUri(uri, FILE_CMEK_PARAMS);
}
