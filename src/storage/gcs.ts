/**
 * Google Cloud Storage object store (gs://bucket/prefix?AUTH&CREDENTIALS&BEARER_TOKEN&ASSUME_ROLE&
 * GOOGLE_BILLING_PROJECT; see uri.ts) on @google-cloud/storage 7.
 *
 * Authentication as CockroachDB: AUTH=implicit uses application default credentials; otherwise
 * CREDENTIALS (base64 of a service-account JSON key) or BEARER_TOKEN (a raw OAuth2 access token sent
 * as "Authorization: Bearer"); ASSUME_ROLE impersonates service accounts in order, the last one
 * finally. GOOGLE_BILLING_PROJECT is sent as userProject (requester-pays buckets).
 *
 * Reads: ranged media downloads; streams are ResumingReadable (reopened at the byte reached).
 * Writes: objects below SIMPLE_UPLOAD_MAX (and empty streams) go up in one multipart request;
 * larger ones, and every other stream, through a resumable upload in CHUNK_SIZE chunks (memory about
 * one chunk). GCS creates the object only when the upload completes, so writes are atomic.
 *
 * Retries: requests we issue (list pages, metadata, downloads, deletes) are retried by withRetry with
 * the store's policy and budget; the library's own retry is off for them. Resumable uploads are
 * retried chunk by chunk by the library (only it knows the session offset), with a retryableErrorFn
 * that applies our classification and spends the same budget.
 *
 * Testing knob: CRDB_CMEK_GCS_ENDPOINT=http://127.0.0.1:PORT points the client at an emulator (like
 * STORAGE_EMULATOR_HOST); requests to it are sent without authentication unless
 * CRDB_CMEK_GCS_ENDPOINT_AUTH=true. Not meant for production use.
 */
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Storage, IdempotencyStrategy, type Bucket, type StorageOptions } from '@google-cloud/storage';
import { CliError, StorageError, UsageError } from '../errors';
import type { ObjectInfo, ObjectStore } from './object-store';
import { joinKey } from './object-store';
import { parseGcsUri, type GcsLocation } from './uri';
import {
  classifyError,
  newRetryContext,
  ResumingReadable,
  retryOptions,
  toStorageError,
  withRetry,
  type RetryBudget,
  type RetryContext,
  type RetryPolicy,
} from './retry';

export const CHUNK_SIZE = 8 * 1024 * 1024;
export const SIMPLE_UPLOAD_MAX = 5 * 1024 * 1024;
export const GCS_SCOPE = 'https://www.googleapis.com/auth/devstorage.read_write';
export const GCS_ENDPOINT_ENV = 'CRDB_CMEK_GCS_ENDPOINT';

/**
 * Whether a stream ends without yielding a byte. The first chunk, when there is one, is put back with
 * unshift(), so the caller pipes the original stream on with its own backpressure (wrapping it in an
 * async iterator instead let reads run ahead of the upload: live memory grew with the object).
 */
export function isEmptyStream(stream: Readable): Promise<boolean> {
  if (stream.readableEnded) return Promise.resolve(true);
  return new Promise((resolve, reject) => {
    const finish = (err: Error | undefined, empty = false) => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
      if (err) reject(err);
      else resolve(empty);
    };
    const onReadable = () => {
      const chunk = stream.read() as Buffer | string | null;
      if (chunk !== null) {
        stream.unshift(chunk);
        finish(undefined, false);
      }
    };
    const onEnd = () => finish(undefined, true);
    const onError = (e: Error) => finish(e);
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}

export interface GcsStoreOptions {
  policy?: Partial<RetryPolicy>;
  budget?: RetryBudget | number;
  env?: NodeJS.ProcessEnv;
  /** Objects per listing page (default 1000). */
  pageSize?: number;
  chunkSize?: number;
}

// The auth classes must come from the google-auth-library that @google-cloud/storage itself uses (v9;
// the project's direct dependency is v10, whose clients return a different header type).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type GalModule = any;
let galCache: GalModule | undefined;
function storageAuthLibrary(): GalModule {
  if (!galCache) galCache = createRequire(require.resolve('@google-cloud/storage'))('google-auth-library');
  return galCache;
}

interface ServiceAccountKey {
  client_email?: string;
  private_key?: string;
  project_id?: string;
  type?: string;
}

function decodeCredentials(b64: string): ServiceAccountKey {
  let json: ServiceAccountKey;
  try {
    json = JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as ServiceAccountKey;
  } catch {
    throw new UsageError('CREDENTIALS in the gs:// URI is not base64 of a JSON key file');
  }
  if (!json || typeof json !== 'object' || (json.type === 'service_account' && (!json.client_email || !json.private_key))) {
    throw new UsageError('CREDENTIALS in the gs:// URI is not a service-account key (client_email and private_key are required)');
  }
  return json;
}

type AuthOptions = Pick<StorageOptions, 'authClient' | 'credentials' | 'projectId'>;

/** Storage constructor options for a location's authentication (exported for tests). */
export async function gcsAuthOptions(loc: GcsLocation): Promise<AuthOptions> {
  const gal = storageAuthLibrary();
  let source: unknown;
  const out: AuthOptions = {};
  if (loc.auth === 'specified' && loc.credentials) {
    const key = decodeCredentials(loc.credentials);
    out.projectId = key.project_id;
    if (loc.assumeRole.length === 0) {
      out.credentials = key as StorageOptions['credentials'];
      return out;
    }
    const jwt = gal.auth.fromJSON({ ...key });
    jwt.scopes = ['https://www.googleapis.com/auth/cloud-platform'];
    source = jwt;
  } else if (loc.auth === 'specified' && loc.bearerToken) {
    const c = new gal.OAuth2Client();
    c.setCredentials({ access_token: loc.bearerToken });
    source = c;
  }
  if (loc.assumeRole.length === 0) {
    if (source) out.authClient = source as StorageOptions['authClient'];
    return out;
  }
  // ASSUME_ROLE: impersonate the last service account through the earlier ones (delegates), with the
  // specified credentials or application default credentials as the source.
  if (!source) source = await new gal.GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] }).getClient();
  const roles = loc.assumeRole.map((r) => r.role);
  out.authClient = new gal.Impersonated({
    sourceClient: source,
    targetPrincipal: roles[roles.length - 1],
    delegates: roles.slice(0, -1),
    targetScopes: [GCS_SCOPE],
    lifetime: 3600,
  });
  return out;
}

export class GcsStore implements ObjectStore {
  readonly displayUri: string;
  readonly loc: GcsLocation;
  readonly retry: RetryContext;
  private readonly bucket: Bucket;
  private readonly uploadBucket: Bucket;
  private readonly storages: Storage[];
  private readonly pageSize: number;
  private readonly chunkSize: number;
  private readonly root: string;

  /** Parses the URI, resolves authentication and builds the store. */
  static async open(uriOrLoc: string | GcsLocation, opts: GcsStoreOptions = {}): Promise<GcsStore> {
    const loc = typeof uriOrLoc === 'string' ? parseGcsUri(uriOrLoc) : uriOrLoc;
    return new GcsStore(loc, await gcsAuthOptions(loc), opts);
  }

  constructor(loc: GcsLocation, auth: AuthOptions, opts: GcsStoreOptions = {}) {
    this.loc = loc;
    this.displayUri = this.loc.displayUri;
    this.retry = newRetryContext({ policy: opts.policy, budget: opts.budget, secrets: this.loc.secrets });
    this.pageSize = opts.pageSize ?? 1000;
    this.chunkSize = opts.chunkSize ?? CHUNK_SIZE;
    this.root = `gs://${this.loc.bucket}${this.loc.prefix ? `/${this.loc.prefix}` : ''}`;
    const env = opts.env ?? process.env;
    const endpoint = env[GCS_ENDPOINT_ENV];
    const base: StorageOptions = {
      ...auth,
      ...(endpoint ? { apiEndpoint: endpoint.replace(/\/+$/, ''), useAuthWithCustomEndpoint: /^(1|true)$/i.test(env.CRDB_CMEK_GCS_ENDPOINT_AUTH ?? '') } : {}),
      ...(this.retry.policy.timeoutMs ? { timeout: this.retry.policy.timeoutMs } : {}),
    };
    if (endpoint && !base.projectId) base.projectId = 'emulator';
    const budget = this.retry.budget;
    const plain = new Storage({ ...base, retryOptions: { autoRetry: false } });
    const uploads = new Storage({
      ...base,
      retryOptions: {
        autoRetry: true,
        maxRetries: Math.max(1, this.retry.policy.attempts - 1),
        retryDelayMultiplier: 2,
        maxRetryDelay: Math.max(1, Math.ceil(this.retry.policy.maxMs / 1000)),
        totalTimeout: 600,
        // Whole-object writes of the same bytes are idempotent: retry them without preconditions.
        idempotencyStrategy: IdempotencyStrategy.RetryAlways,
        retryableErrorFn: (err) => classifyError(err).retryable && budget.take(),
      },
    });
    this.storages = [plain, uploads];
    const bopts = this.loc.billingProject ? { userProject: this.loc.billingProject } : undefined;
    this.bucket = plain.bucket(this.loc.bucket, bopts);
    this.uploadBucket = uploads.bucket(this.loc.bucket, bopts);
  }

  private where(key: string): string {
    return key ? `${this.root}/${key}` : this.root;
  }

  private full(key: string): string {
    const k = joinKey(key);
    return this.loc.prefix ? `${this.loc.prefix}/${k}` : k;
  }

  private run<T>(action: string, key: string, op: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withRetry((_, signal) => op(signal), retryOptions(this.retry, action, this.where(key)));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const base = this.loc.prefix ? `${this.loc.prefix}/` : '';
    const full = base + prefix.replace(/^\/+/, '');
    let pageToken: string | undefined;
    do {
      const [files, next] = await this.run('list', prefix, async () =>
        this.bucket.getFiles({ prefix: full, autoPaginate: false, maxResults: this.pageSize, ...(pageToken ? { pageToken } : {}) }),
      );
      for (const f of files) {
        if (!f.name.startsWith(base) || f.name.endsWith('/')) continue;
        yield { key: f.name.slice(base.length), size: Number(f.metadata.size ?? 0) };
      }
      pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
    } while (pageToken);
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const [md] = await this.run('stat', key, () => this.bucket.file(this.full(key)).getMetadata());
      return { key, size: Number(md.size ?? 0) };
    } catch (e) {
      if (e instanceof StorageError && e.message.startsWith('not found')) return undefined;
      throw e;
    }
  }

  async read(key: string): Promise<Buffer> {
    const [buf] = await this.run('read', key, () => this.bucket.file(this.full(key)).download());
    return buf;
  }

  async readRange(key: string, start: number, end: number): Promise<Buffer> {
    if (start < 0 || end < start) throw new StorageError(`invalid range [${start}, ${end}) for ${this.where(key)}`, 'InvalidRange');
    if (end === start) {
      if (!(await this.stat(key))) throw new StorageError(`not found: read ${this.where(key)}`, 'notFound');
      return Buffer.alloc(0);
    }
    try {
      const [buf] = await this.run('read', key, () => this.bucket.file(this.full(key)).download({ start, end: end - 1, validation: false }));
      return buf;
    } catch (e) {
      if (e instanceof StorageError && /HTTP 416|requestedRangeNotSatisfiable/.test(e.message)) return Buffer.alloc(0);
      throw e;
    }
  }

  async createReadStream(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const info = await this.stat(key);
    if (!info) throw new StorageError(`not found: read ${this.where(key)}`, 'notFound');
    const start = Math.min(range?.start ?? 0, info.size);
    const end = Math.min(range?.end ?? info.size, info.size);
    if (end <= start) return Readable.from([]);
    const file = this.bucket.file(this.full(key));
    return new ResumingReadable(
      async (pos) => file.createReadStream({ start: pos, end: end - 1, validation: false }),
      start,
      end,
      this.retry,
      'read',
      this.where(key),
    );
  }

  async write(key: string, data: Buffer | Readable): Promise<void> {
    const file = this.uploadBucket.file(this.full(key));
    try {
      // An empty stream is sent like an empty buffer (e.g. a decrypted empty BACKUP-STATISTICS): the
      // library's chunked resumable upload sends "Content-Range: bytes 0--1/0" for a zero-byte stream,
      // an invalid range that the emulator (and the documented protocol) refuse.
      const whole = Buffer.isBuffer(data) ? data : (await isEmptyStream(data)) ? Buffer.alloc(0) : undefined;
      if (whole && whole.length <= SIMPLE_UPLOAD_MAX) {
        await file.save(whole, { resumable: false, validation: 'crc32c', contentType: 'application/octet-stream' });
        return;
      }
      const src = whole ? Readable.from([whole]) : (data as Readable);
      await pipeline(
        src,
        file.createWriteStream({ resumable: true, chunkSize: this.chunkSize, validation: 'crc32c', contentType: 'application/octet-stream' }),
      );
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw toStorageError(e, { action: 'write', what: this.where(key), secrets: this.retry.secrets });
    }
  }

  async delete(key: string): Promise<void> {
    await this.run('delete', key, () => this.bucket.file(this.full(key)).delete({ ignoreNotFound: true }));
  }

  async close(): Promise<void> {
    // The library keeps no sockets open beyond its agents' keep-alive; nothing to release.
  }
}
