/**
 * HashiCorp Vault Transit: `vault-transit:///<mount>/<key>` (the mount may have several segments:
 * the last path segment is the key). Address, token and namespace come from the URI parameters
 * VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, else from the same-named environment variables; TLS trust
 * from VAULT_CACERT (a PEM file; parameter or environment) and VAULT_SKIP_VERIFY=true for tests only.
 * Calls go through node-vault: `POST <mount>/encrypt/<key>` {plaintext: b64} -> `vault:vN:...` and
 * `POST <mount>/decrypt/<key>` {ciphertext}. The ciphertext is stored as its UTF-8 bytes, so the key
 * version used is visible in it (`vault:v2:`); after a rotation, older versions still decrypt (as long
 * as Vault's min_decryption_version allows) and new wraps use the latest version.
 * `context` in Transit is only for derived keys, so additional data is bound by prepending SHA-256(aad)
 * to the plaintext and checking it on decrypt. Key ID = `<mount>/<key>`.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import NodeVault from 'node-vault';
import { UsageError } from '../errors';
import type { KmsProvider } from './provider';
import { parseKmsUri, type KmsUri } from './uri';
import { KmsRefusedError, networkCode, sleep, backoffMs } from './kms-error';

export const VAULT_PARAMS = ['VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_NAMESPACE', 'VAULT_CACERT', 'VAULT_SKIP_VERIFY'] as const;

export interface VaultTransitOptions {
  env?: NodeJS.ProcessEnv;
  maxAttempts?: number;
  retryBaseMs?: number;
  timeoutMs?: number;
}

/** The key version of a `vault:vN:...` ciphertext, or undefined when it is not one. */
export function vaultCiphertextVersion(ciphertext: Buffer | string): number | undefined {
  const m = /^vault:v(\d+):/.exec(typeof ciphertext === 'string' ? ciphertext : ciphertext.subarray(0, 24).toString('utf8'));
  return m ? Number(m[1]) : undefined;
}

export class VaultTransitProvider implements KmsProvider {
  readonly provider = 'vault-transit';
  readonly keyId: string;
  readonly displayUri: string;
  readonly mount: string;
  readonly keyName: string;
  readonly address: string;
  /** The key version used by the last encrypt (from its `vault:vN:` prefix). */
  lastKeyVersion?: number;
  private readonly client: NodeVault.client;
  private readonly secrets: string[];
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;

  constructor(uri: string | KmsUri, opts: VaultTransitOptions = {}) {
    const env = opts.env ?? process.env;
    const u = typeof uri === 'string' ? parseKmsUri(uri, VAULT_PARAMS) : uri;
    if (u.scheme !== 'vault-transit') throw new UsageError(`not a Vault Transit URI: ${u.displayUri}`);
    this.displayUri = u.displayUri;
    this.secrets = [...u.secrets];
    const segs = u.path.split('/').filter(Boolean);
    if (u.host) segs.unshift(u.host); // vault-transit://transit/key is read as mount "transit", key "key"
    if (segs.length < 2) throw new UsageError(`Vault Transit URI must name <mount>/<key>: ${u.displayUri}`, 'vault-transit:///transit/my-key?VAULT_ADDR=https://vault:8200');
    this.keyName = segs[segs.length - 1];
    this.mount = segs.slice(0, -1).join('/');
    this.keyId = `${this.mount}/${this.keyName}`;
    const param = (n: string) => u.params.get(n) || env[n] || '';
    this.address = param('VAULT_ADDR').replace(/\/+$/, '');
    if (!this.address) throw new UsageError('Vault address not set: give VAULT_ADDR as a URI parameter or environment variable');
    if (!/^https?:\/\//i.test(this.address)) throw new UsageError(`VAULT_ADDR must be an http(s) URL: ${this.address}`);
    const token = param('VAULT_TOKEN');
    if (!token) throw new UsageError('Vault token not set: give VAULT_TOKEN as a URI parameter or environment variable');
    this.secrets.push(token);
    const namespace = param('VAULT_NAMESPACE');
    const requestOptions: Record<string, unknown> = { timeout: opts.timeoutMs ?? 30_000 };
    const caFile = param('VAULT_CACERT');
    if (caFile) {
      try {
        requestOptions.ca = fs.readFileSync(caFile);
      } catch (e) {
        throw new UsageError(`cannot read VAULT_CACERT ${caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    if (/^(1|true)$/i.test(param('VAULT_SKIP_VERIFY'))) requestOptions.strictSSL = false;
    this.client = NodeVault({ apiVersion: 'v1', endpoint: this.address, token, namespace: namespace || undefined, requestOptions });
    // node-vault falls back to process.env for an empty token/namespace: pin what we resolved.
    this.client.token = token;
    (this.client as unknown as { namespace?: string }).namespace = namespace || undefined;
    this.maxAttempts = opts.maxAttempts ?? 4;
    this.retryBaseMs = opts.retryBaseMs ?? 200;
  }

  async encrypt(plaintext: Buffer, aad?: Buffer): Promise<Buffer> {
    const body = aad ? Buffer.concat([sha256(aad), plaintext]) : plaintext;
    const resp = await this.call('encrypt', () => this.client.write(`${this.mount}/encrypt/${this.keyName}`, { plaintext: body.toString('base64') }));
    const ct = resp?.data?.ciphertext;
    if (typeof ct !== 'string' || vaultCiphertextVersion(ct) === undefined) throw this.refused('encrypt', 'BadResponse', 'Vault returned no vault:vN: ciphertext');
    this.lastKeyVersion = vaultCiphertextVersion(ct);
    return Buffer.from(ct, 'utf8');
  }

  async decrypt(ciphertext: Buffer, aad?: Buffer): Promise<Buffer> {
    const text = ciphertext.toString('utf8');
    if (vaultCiphertextVersion(text) === undefined) throw this.refused('decrypt', 'InvalidCiphertext', 'not a vault:vN: ciphertext');
    const resp = await this.call('decrypt', () => this.client.write(`${this.mount}/decrypt/${this.keyName}`, { ciphertext: text }));
    const b64 = resp?.data?.plaintext;
    if (typeof b64 !== 'string') throw this.refused('decrypt', 'BadResponse', 'Vault returned no plaintext');
    const pt = Buffer.from(b64, 'base64');
    if (!aad) return pt;
    if (pt.length < 32 || !crypto.timingSafeEqual(pt.subarray(0, 32), sha256(aad))) {
      throw this.refused('decrypt', 'AdditionalDataMismatch', 'the ciphertext is bound to different additional data');
    }
    return pt.subarray(32);
  }

  /**
   * Re-encrypts a ciphertext under the key's latest version without exposing the plaintext
   * (`POST <mount>/rewrap/<key>`). Additional data, if any, is carried over unchanged.
   */
  async rewrap(ciphertext: Buffer): Promise<Buffer> {
    const resp = await this.call('rewrap', () => this.client.write(`${this.mount}/rewrap/${this.keyName}`, { ciphertext: ciphertext.toString('utf8') }));
    const ct = resp?.data?.ciphertext;
    if (typeof ct !== 'string') throw this.refused('rewrap', 'BadResponse', 'Vault returned no ciphertext');
    this.lastKeyVersion = vaultCiphertextVersion(ct);
    return Buffer.from(ct, 'utf8');
  }

  private async call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const status = (err as { response?: { statusCode?: number } }).response?.statusCode;
        if (status === 429 && attempt + 1 < this.maxAttempts) {
          await sleep(backoffMs(attempt, this.retryBaseMs));
          continue;
        }
        throw this.mapError(op, err, attempt + 1);
      }
    }
  }

  private mapError(op: string, err: unknown, attempts: number): KmsRefusedError {
    const e = err as { message?: string; response?: { statusCode?: number; body?: { errors?: unknown[] } } };
    const net = networkCode(err);
    if (net) return this.refused(op, 'unreachable', `${net} (Vault at ${this.address})`);
    const status = e.response?.statusCode;
    if (status !== undefined) {
      const errors = (e.response?.body?.errors ?? []).map(String).filter(Boolean);
      let detail = errors.length ? errors.join('; ') : (e.message ?? '');
      if (status === 429) detail += ` (gave up after ${attempts} attempts)`;
      return this.refused(op, `HTTP ${status}`, detail);
    }
    return this.refused(op, 'Error', e.message ?? String(err));
  }

  private refused(op: string, reason: string, detail: string): KmsRefusedError {
    return new KmsRefusedError({ provider: this.provider, keyId: this.keyId, displayUri: this.displayUri, op, reason, detail, secrets: this.secrets });
  }
}

function sha256(b: Buffer): Buffer {
  return crypto.createHash('sha256').update(b).digest();
}
