/**
 * An S3-protocol server for tests: s3rver (npm) in a child process on 127.0.0.1 and a random port,
 * storing into a fresh temporary directory, with one bucket created.
 *
 *   const s3 = await startS3rver();                 // in beforeAll
 *   const uri = s3.uriFor('collections/a');         // s3://<bucket>/collections/a?AWS_ACCESS_KEY_ID=S3RVER&...
 *   const store = await openStore(uri);
 *   await s3.stop();                                // in afterAll
 *
 * Why a child process: s3rver encrypts listing continuation tokens with DES, which Node 20's
 * OpenSSL 3 refuses unless the process runs with --openssl-legacy-provider (any truncated listing
 * would answer HTTP 500). It also keeps s3rver's CPU and memory out of the test's own measurements.
 * Credentials: S3RVER / S3RVER (s3rver checks the access key ID; it does not verify SigV4 signatures).
 * The child exits when its stdin closes, so a crashed test run does not leave it behind.
 */
import type { ChildProcess } from 'node:child_process';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';

export const S3RVER_KEY = 'S3RVER';
export const S3RVER_SECRET = 'S3RVER';

export interface S3rverHandle {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  port: number;
  /** The bucket created at start. */
  bucket: string;
  /** Where s3rver keeps its files (removed by stop()). */
  directory: string;
  /**
   * An s3:// URI for a prefix of the bucket with working credentials and endpoint. `params` adds or
   * overrides query parameters; `endpoint` routes through another address (e.g. a fault proxy);
   * `bucket` picks another bucket.
   */
  uriFor(prefix?: string, opts?: { params?: Record<string, string>; endpoint?: string; bucket?: string }): string;
  /** A raw SDK client for setup/inspection (checksums WHEN_REQUIRED: s3rver cannot store aws-chunked bodies). */
  client(endpoint?: string): S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { spawnS3rver } = require('./s3rver-process') as {
  spawnS3rver(o: { buckets: string[]; prefix?: string }): Promise<{ child: ChildProcess; port: number; endpoint: string; directory: string; stop(): Promise<void> }>;
};

export async function startS3rver(opts: { bucket?: string } = {}): Promise<S3rverHandle> {
  const bucket = opts.bucket ?? 'test-bucket';
  const server = await spawnS3rver({ buckets: [bucket] });
  const { port, directory } = server;
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: S3Client[] = [];
  const client = (ep = endpoint) => {
    const c = new S3Client({
      region: 'us-east-1',
      endpoint: ep,
      forcePathStyle: true,
      credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_SECRET },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    clients.push(c);
    return c;
  };
  return {
    endpoint,
    port,
    bucket,
    directory,
    uriFor(prefix = '', o = {}) {
      const q = new URLSearchParams({
        AWS_ACCESS_KEY_ID: S3RVER_KEY,
        AWS_SECRET_ACCESS_KEY: S3RVER_SECRET,
        AWS_ENDPOINT: o.endpoint ?? endpoint,
        AWS_REGION: 'us-east-1',
        ...(o.params ?? {}),
      });
      const p = prefix.replace(/^\/+/, '');
      return `s3://${o.bucket ?? bucket}/${p}?${q.toString()}`;
    },
    client,
    async createBucket(name: string) {
      await client().send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      for (const c of clients) c.destroy();
      await server.stop();
    },
  };
}
