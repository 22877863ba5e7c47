/**
 * S3Store against s3rver (child process, 127.0.0.1, random port): the ObjectStore contract, listing
 * past 1000 keys, a 100 MiB multipart streaming upload with bounded memory, fault injection through a
 * proxy (SlowDown, 503, reset, stall, truncated bodies) and redaction.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { StorageError } from '../../src/errors';
import { openStore } from '../../src/storage';
import { S3Store } from '../../src/storage/s3';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { collect, generatedStream, peakMemoryDuring, pattern, sha256OfStream, storeContract, streamToBuffer } from './storage-contract';

let s3: S3rverHandle;
let proxy: FaultProxy;
let store: S3Store;
const fast = { baseMs: 5, maxMs: 50, timeoutMs: 2000 };

beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startFaultProxy(s3.endpoint);
  store = (await openStore(s3.uriFor('contract'))) as S3Store;
}, 30_000);

afterAll(async () => {
  await store?.close();
  await proxy?.stop();
  await s3?.stop();
});

storeContract('s3', { store: () => store, paginationCount: 1005 });

describe('s3 store specifics', () => {
  test('the store root is the URI prefix; keys are relative to it', async () => {
    const a = (await openStore(s3.uriFor('root-a/'))) as S3Store;
    const b = (await openStore(s3.uriFor('root-a/sub'))) as S3Store;
    await a.write('sub/k', Buffer.from('hello'));
    expect((await b.read('k')).toString()).toBe('hello');
    expect((await collect(a.list(''))).map((o) => o.key)).toEqual(['sub/k']);
    const head = await s3.client().send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'root-a/sub/k' }));
    expect(head.ContentLength).toBe(5);
    await a.close();
    await b.close();
  });

  test('100 MiB streamed through multipart upload with bounded memory, bytes checked by SHA-256', async () => {
    const size = 100 * 1024 * 1024;
    const gen = generatedStream(size);
    const w = new S3Store(s3.uriFor('contract'), { partSize: 5 * 1024 * 1024, queueSize: 2 });
    await w.write('big/warm-up', generatedStream(11 * 1024 * 1024).stream); // loads the multipart code paths first
    const { peakGrowth } = await peakMemoryDuring(() => w.write('big/object.bin', gen.stream));
    await w.close();
    // 5 MiB parts, 2 in flight: live memory stays a few parts (measured 19-46 MiB), well below the
    // 100 MiB a buffered upload would hold.
    expect(peakGrowth).toBeLessThan(64 * 1024 * 1024);
    expect(await store.stat('big/object.bin')).toEqual({ key: 'big/object.bin', size });
    const back = await sha256OfStream(await store.createReadStream('big/object.bin'));
    expect(back.bytes).toBe(size);
    expect(back.sha256).toBe(gen.sha256());
    // Random access into the multipart object.
    const mid = await store.readRange('big/object.bin', 8 * 1024 * 1024 - 10, 8 * 1024 * 1024 + 10);
    expect(mid.length).toBe(20);
  }, 180_000);

  test('a bucket that does not exist: StorageError exit 4 with the service reason', async () => {
    const s = (await openStore(s3.uriFor('x', { bucket: 'no-such-bucket' }))) as S3Store;
    const err = await s.read('k').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).exitCode).toBe(4);
    expect((err as StorageError).message).toMatch(/NoSuchBucket|not found/);
    await s.close();
  });

  test('wrong credentials: access denied, exit 4, secrets not in the message', async () => {
    // s3rver checks the access key ID (it does not verify SigV4 signatures).
    const keyId = 'WRONGKEYID12345';
    const secret = 'WRONGsecretVALUE123';
    const s = (await openStore(s3.uriFor('x', { params: { AWS_ACCESS_KEY_ID: keyId, AWS_SECRET_ACCESS_KEY: secret } }))) as S3Store;
    const err = (await s.read('k').catch((e: unknown) => e)) as StorageError;
    expect(err).toBeInstanceOf(StorageError);
    expect(err.exitCode).toBe(4);
    expect(err.message).toMatch(/access denied|SignatureDoesNotMatch|InvalidAccessKeyId/i);
    expect(err.message).not.toContain(secret);
    expect(err.message).not.toContain(keyId);
    expect(s.displayUri).not.toContain(secret);
    expect(s.displayUri).not.toContain(keyId);
    expect(s.displayUri).toContain('AWS_SECRET_ACCESS_KEY=redacted');
    await s.close();
  });
});

describe('s3 fault injection (through a proxy)', () => {
  let faulty: S3Store;
  beforeAll(async () => {
    faulty = new S3Store(s3.uriFor('faults', { endpoint: proxy.endpoint }), { policy: { ...fast, attempts: 5 }, budget: 100 });
    await faulty.write('obj', pattern(300_000, 11));
  });
  afterAll(async () => faulty?.close());
  afterEach(() => proxy.schedule.clear());

  test('SlowDown, 503, 500 and a reset are retried; the read succeeds', async () => {
    proxy.inject('slowdown', 503, 500, 'reset');
    const buf = await faulty.read('obj');
    expect(buf.equals(pattern(300_000, 11))).toBe(true);
    expect(proxy.pending()).toBe(0);
  });

  test('a stalled request times out and is retried', async () => {
    const s = new S3Store(s3.uriFor('faults', { endpoint: proxy.endpoint }), { policy: { ...fast, timeoutMs: 500 }, budget: 10 });
    proxy.inject('stall');
    const t0 = Date.now();
    expect((await s.stat('obj'))?.size).toBe(300_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(proxy.pending()).toBe(0);
    await s.close();
  });

  test('a body cut in the middle resumes where it stopped (streams and ranges)', async () => {
    proxy.injectWhen((r) => r.method === 'GET', 'truncate');
    expect((await streamToBuffer(await faulty.createReadStream('obj'))).equals(pattern(300_000, 11))).toBe(true);
    proxy.injectWhen((r) => r.method === 'GET', 'truncate');
    expect((await faulty.readRange('obj', 1000, 200_000)).equals(pattern(300_000, 11).subarray(1000, 200_000))).toBe(true);
    expect(proxy.pending()).toBe(0);
  });

  test('faults on multipart part uploads are retried and the object is whole', async () => {
    const w = new S3Store(s3.uriFor('faults', { endpoint: proxy.endpoint }), { policy: fast, budget: 50, partSize: 5 * 1024 * 1024 });
    const gen = generatedStream(12 * 1024 * 1024);
    proxy.injectWhen((r) => r.method === 'PUT' && /partNumber=2/.test(r.url ?? ''), 503, 'reset');
    await w.write('multi.bin', gen.stream);
    expect(proxy.pending()).toBe(0);
    const back = await sha256OfStream(await w.createReadStream('multi.bin'));
    expect(back.sha256).toBe(gen.sha256());
    await w.close();
  }, 60_000);

  test('persistent throttling: StorageError exit 4 naming the object and SlowDown, after the attempts', async () => {
    proxy.inject(...Array(10).fill('slowdown'));
    const err = (await faulty.read('obj').catch((e: unknown) => e)) as StorageError;
    expect(err).toBeInstanceOf(StorageError);
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain('s3://test-bucket/faults/obj');
    expect(err.message).toContain('SlowDown');
    expect(err.message).toMatch(/gave up after 5 attempts/);
    expect(proxy.pending()).toBe(5);
  });

  test('the retry budget is shared by the store: once spent, failures are final', async () => {
    const s = new S3Store(s3.uriFor('faults', { endpoint: proxy.endpoint }), { policy: { ...fast, attempts: 10 }, budget: 3 });
    proxy.inject(503, 503);
    expect((await s.stat('obj'))?.size).toBe(300_000); // spends 2 of 3
    proxy.inject(503, 503, 503);
    const err = (await s.stat('obj').catch((e: unknown) => e)) as StorageError;
    expect(err).toBeInstanceOf(StorageError);
    expect(err.message).toMatch(/retry budget exhausted/);
    expect(s.retry.budget.remaining).toBe(0);
    await s.close();
  });

  test('not found is not retried', async () => {
    const before = proxy.schedule.seen.length;
    const err = (await faulty.read('missing').catch((e: unknown) => e)) as StorageError;
    expect(err.exitCode).toBe(4);
    expect(err.message).toMatch(/^not found: read s3:\/\/test-bucket\/faults\/missing/);
    expect(proxy.schedule.seen.length - before).toBe(1);
  });

  test('a failed upload (faults past the budget) leaves no object', async () => {
    const s = new S3Store(s3.uriFor('faults', { endpoint: proxy.endpoint }), { policy: { ...fast, attempts: 2 }, budget: 1 });
    proxy.injectWhen((r) => r.method === 'PUT', 503, 503, 503, 503);
    const err = (await s.write('never', pattern(1000, 2)).catch((e: unknown) => e)) as StorageError;
    expect(err).toBeInstanceOf(StorageError);
    expect(err.exitCode).toBe(4);
    proxy.schedule.clear();
    expect(await store.stat('../faults/never')).toBeUndefined();
    expect(await faulty.stat('never')).toBeUndefined();
    await s.close();
  });
});
