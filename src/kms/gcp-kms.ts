/**
 * Google Cloud KMS (`gcp-kms:///projects/p/locations/l/keyRings/r/cryptoKeys/k` or `gs:///...`), with
 * CockroachDB's parameters and rules (pkg/cloud/gcp/gcp_kms.go):
 * - the master key ID is the path without its leading '/' and without any `/cryptoKeyVersions/...`
 *   suffix (symmetric decrypt picks the version from the ciphertext);
 * - AUTH is 'specified' (the default: CREDENTIALS = base64 service-account JSON, or BEARER_TOKEN) or
 *   'implicit' (application default credentials); ASSUME_ROLE is a chain of service accounts to
 *   impersonate, the last one finally (the ones before are delegates);
 * - CRC32C integrity fields: plaintextCrc32c sent on encrypt and `verifiedPlaintextCrc32c` and
 *   `ciphertextCrc32c` checked on the response; ciphertextCrc32c sent on decrypt and `plaintextCrc32c`
 *   checked on the response. A mismatch is "corrupted in transit", never silently accepted.
 * Tests point the client at an emulator with env CRDB_CMEK_GCP_KMS_ENDPOINT=http://127.0.0.1:PORT
 * (REST transport; BEARER_TOKEN is still sent as a bearer token, other credentials are not used).
 */
import { KeyManagementServiceClient, protos } from '@google-cloud/kms';

type EncryptRequest = protos.google.cloud.kms.v1.IEncryptRequest;
type DecryptRequest = protos.google.cloud.kms.v1.IDecryptRequest;
type GaxCallOptions = import('google-gax').CallOptions;
import { GoogleAuth, Impersonated, OAuth2Client, PassThroughClient, type AuthClient } from 'google-auth-library';
import { UsageError } from '../errors';
import { crc32c } from '../util/crc32c';
import type { KmsProvider } from './provider';
import { parseKmsUri, parseRoleChain, authMode, type KmsUri } from './uri';
import { KmsRefusedError, networkCode, sleep, backoffMs } from './kms-error';

export const GCP_KMS_PARAMS = ['AUTH', 'CREDENTIALS', 'BEARER_TOKEN', 'ASSUME_ROLE'] as const;
export const GCP_ENDPOINT_ENV = 'CRDB_CMEK_GCP_KMS_ENDPOINT';
const SCOPES = ['https://www.googleapis.com/auth/cloudkms'];

/** gRPC status codes by number, as Google's errors carry them. */
const GRPC_STATUS = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];
const RESOURCE_EXHAUSTED = 8;

/** CockroachDB's key ID: path without leading '/' and without '/cryptoKeyVersions/...'. */
export function gcpKeyId(path: string): string {
  return path.split('/cryptoKeyVersions/')[0].replace(/^\//, '');
}

export interface GcpKmsOptions {
  env?: NodeJS.ProcessEnv;
  maxAttempts?: number;
  retryBaseMs?: number;
  timeoutMs?: number;
}

type Int64Value = { value?: number | string | { toString(): string } | null } | null | undefined;

function int64(v: Int64Value | number | string): number | undefined {
  if (v === null || v === undefined) return undefined;
  const raw = typeof v === 'object' && 'value' in v ? v.value : v;
  if (raw === null || raw === undefined) return undefined;
  return Number(String(raw));
}

export class GcpKmsProvider implements KmsProvider {
  readonly provider = 'gcp-kms';
  readonly keyId: string;
  readonly displayUri: string;
  private readonly secrets: string[];
  private readonly makeClient: () => Promise<KeyManagementServiceClient>;
  private clientP?: Promise<KeyManagementServiceClient>;
  private readonly endpoint?: string;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly timeoutMs: number;

  constructor(uri: string | KmsUri, opts: GcpKmsOptions = {}) {
    const env = opts.env ?? process.env;
    const u = typeof uri === 'string' ? parseKmsUri(uri, GCP_KMS_PARAMS) : uri;
    if (u.scheme !== 'gcp-kms' && u.scheme !== 'gs') throw new UsageError(`not a Google Cloud KMS URI: ${u.displayUri}`);
    this.displayUri = u.displayUri;
    this.secrets = [...u.secrets];
    if (!u.path || u.path === '/') {
      throw new UsageError('path component of the KMS cannot be empty; must contain the Customer Managed Key', 'gcp-kms:///projects/P/locations/L/keyRings/R/cryptoKeys/K?AUTH=implicit');
    }
    this.keyId = gcpKeyId(u.path);
    const p = (n: string) => u.params.get(n) ?? '';
    const endpoint = env[GCP_ENDPOINT_ENV];
    this.endpoint = endpoint;

    // Credentials, as CockroachDB picks them.
    let source: () => Promise<AuthClient>;
    if (authMode(u) === 'specified') {
      if (p('CREDENTIALS')) {
        const json = decodeCredentials(p('CREDENTIALS'));
        if (typeof json.private_key === 'string') this.secrets.push(json.private_key);
        source = endpoint ? async () => new PassThroughClient() : () => new GoogleAuth({ credentials: json, scopes: SCOPES }).getClient() as Promise<AuthClient>;
      } else if (p('BEARER_TOKEN')) {
        const token = p('BEARER_TOKEN');
        source = async () => {
          const c = new OAuth2Client();
          c.setCredentials({ access_token: token });
          return c;
        };
      } else {
        throw new UsageError('CREDENTIALS or BEARER_TOKEN must be set if "AUTH" is "specified"', 'or use AUTH=implicit for application default credentials');
      }
    } else {
      source = endpoint ? async () => new PassThroughClient() : () => new GoogleAuth({ scopes: SCOPES }).getClient() as Promise<AuthClient>;
    }
    const chain = parseRoleChain(p('ASSUME_ROLE') || undefined);
    let auth: () => Promise<AuthClient> = source;
    if (chain.assume && !endpoint) {
      const target = chain.assume.role;
      const delegates = chain.delegates.map((d) => d.role);
      auth = async () => new Impersonated({ sourceClient: await source(), targetPrincipal: target, delegates, targetScopes: SCOPES, lifetime: 3600 });
    }

    const clientOpts: Record<string, unknown> = { fallback: 'rest' };
    if (endpoint) {
      let url: URL;
      try {
        url = new URL(endpoint);
      } catch {
        throw new UsageError(`${GCP_ENDPOINT_ENV} is not a URL`);
      }
      clientOpts.apiEndpoint = url.hostname;
      clientOpts.port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      clientOpts.protocol = url.protocol.replace(':', '');
    }
    // The auth client is built on first use (ADC discovery and impersonation are async).
    this.makeClient = async () => new KeyManagementServiceClient({ ...clientOpts, authClient: (await auth()) as never });
    this.maxAttempts = opts.maxAttempts ?? 4;
    this.retryBaseMs = opts.retryBaseMs ?? 200;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async encrypt(plaintext: Buffer, aad?: Buffer): Promise<Buffer> {
    const req: Record<string, unknown> = {
      name: this.keyId,
      plaintext,
      plaintextCrc32c: { value: crc32c(plaintext) },
    };
    if (aad) {
      req.additionalAuthenticatedData = aad;
      req.additionalAuthenticatedDataCrc32c = { value: crc32c(aad) };
    }
    const [resp] = await this.call('encrypt', () => this.client().then((c) => c.encrypt(req as EncryptRequest, this.callOpts())));
    if (!resp.verifiedPlaintextCrc32c) throw this.refused('encrypt', 'IntegrityCheckFailed', 'Encrypt: request corrupted in-transit (verifiedPlaintextCrc32c is false)');
    if (aad && !resp.verifiedAdditionalAuthenticatedDataCrc32c) throw this.refused('encrypt', 'IntegrityCheckFailed', 'Encrypt: additional data corrupted in-transit');
    const ct = Buffer.from(resp.ciphertext ?? []);
    if (ct.length === 0) throw this.refused('encrypt', 'EmptyResponse', 'the service returned no ciphertext');
    if (int64(resp.ciphertextCrc32c as Int64Value) !== crc32c(ct)) throw this.refused('encrypt', 'IntegrityCheckFailed', 'Encrypt: response corrupted in-transit (ciphertextCrc32c mismatch)');
    return ct;
  }

  async decrypt(ciphertext: Buffer, aad?: Buffer): Promise<Buffer> {
    const req: Record<string, unknown> = {
      name: this.keyId,
      ciphertext,
      ciphertextCrc32c: { value: crc32c(ciphertext) },
    };
    if (aad) {
      req.additionalAuthenticatedData = aad;
      req.additionalAuthenticatedDataCrc32c = { value: crc32c(aad) };
    }
    const [resp] = await this.call('decrypt', () => this.client().then((c) => c.decrypt(req as DecryptRequest, this.callOpts())));
    const pt = Buffer.from(resp.plaintext ?? []);
    if (int64(resp.plaintextCrc32c as Int64Value) !== crc32c(pt)) throw this.refused('decrypt', 'IntegrityCheckFailed', 'Decrypt: response corrupted in-transit (plaintextCrc32c mismatch)');
    return pt;
  }

  async close(): Promise<void> {
    if (this.clientP) await (await this.clientP.catch(() => undefined))?.close();
    this.clientP = undefined;
  }

  private client(): Promise<KeyManagementServiceClient> {
    return (this.clientP ??= this.makeClient());
  }

  private callOpts(): GaxCallOptions {
    // gax's own retries (UNAVAILABLE for up to a minute) are off: we retry throttling only.
    return { retry: null, timeout: this.timeoutMs } as unknown as GaxCallOptions;
  }

  private async call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof KmsRefusedError) throw err;
        const c = classify(err);
        if (c.throttled && attempt + 1 < this.maxAttempts) {
          await sleep(backoffMs(attempt, this.retryBaseMs));
          continue;
        }
        if (c.reason === 'unreachable') c.detail += ` (endpoint ${this.endpoint ?? 'cloudkms.googleapis.com'})`;
        if (c.throttled) c.detail += ` (gave up after ${attempt + 1} attempts)`;
        throw this.refused(op, c.reason, c.detail);
      }
    }
  }

  private refused(op: string, reason: string, detail: string): KmsRefusedError {
    return new KmsRefusedError({ provider: this.provider, keyId: this.keyId, displayUri: this.displayUri, op, reason, detail, secrets: this.secrets });
  }
}

/**
 * Reads a Google API failure: the REST transport surfaces the google.rpc.Status JSON body
 * ({"error": {"code", "message", "status"}}), the gRPC transport a numeric code and details.
 */
function classify(err: unknown): { reason: string; detail: string; throttled: boolean } {
  const e = err as { code?: unknown; message?: string; details?: string; response?: { status?: number; data?: unknown } };
  const net = networkCode(err);
  if (net) return { reason: 'unreachable', detail: `${net}: ${e.message ?? ''}`.trim(), throttled: false };
  if (/Could not load the default credentials|Could not refresh access token|invalid_grant/i.test(e.message ?? '')) {
    return { reason: 'credentials-unavailable', detail: e.message ?? '', throttled: false };
  }
  const status = parseStatus(e.response?.data) ?? parseStatus(e.message);
  if (status) return { reason: status.status, detail: status.message, throttled: status.status === 'RESOURCE_EXHAUSTED' };
  if (e.response?.status !== undefined) {
    return { reason: `HTTP ${e.response.status}`, detail: e.message ?? '', throttled: e.response.status === 429 };
  }
  if (typeof e.code === 'number' && GRPC_STATUS[e.code]) {
    return { reason: GRPC_STATUS[e.code], detail: (e.details || e.message || '').replace(/^\d+ [A-Z_]+: /, ''), throttled: e.code === RESOURCE_EXHAUSTED };
  }
  return { reason: typeof e.code === 'string' ? e.code : 'Error', detail: e.message ?? String(err), throttled: false };
}

function parseStatus(body: unknown): { status: string; message: string } | undefined {
  let obj = body;
  if (typeof body === 'string') {
    try {
      obj = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const err = (obj as { error?: { status?: unknown; message?: unknown; code?: unknown } } | undefined)?.error;
  if (err && typeof err.status === 'string') return { status: err.status, message: String(err.message ?? '') };
  return undefined;
}

function decodeCredentials(b64: string): Record<string, unknown> {
  try {
    const json = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
    if (json && typeof json === 'object') return json as Record<string, unknown>;
  } catch {
    /* fall through */
  }
  throw new UsageError('error getting credentials from CREDENTIALS: not base64-encoded service-account JSON');
}
