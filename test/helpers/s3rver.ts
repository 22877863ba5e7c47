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
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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

const CHILD = `
const S3rver = require(process.argv[1]);
const [dir, buckets] = [process.argv[2], JSON.parse(process.argv[3])];
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir,
  configureBuckets: buckets.map((name) => ({ name })) });
server.run().then((addr) => process.stdout.write(JSON.stringify({ port: addr.port }) + '\\n'),
  (e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
`;

export async function startS3rver(opts: { bucket?: string } = {}): Promise<S3rverHandle> {
  const bucket = opts.bucket ?? 'test-bucket';
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-s3rver-'));
  const s3rverMain = require.resolve('s3rver');
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD, s3rverMain, directory, JSON.stringify([bucket])], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        child.stdout!.off('data', onData);
        resolve(JSON.parse(out.slice(0, nl)).port as number);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening: ${stderr}`)));
    setTimeout(() => reject(new Error(`s3rver did not start in 20 s: ${stderr}`)), 20_000).unref();
  });
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
      if (child.exitCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.stdin!.end();
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}
