/**
 * GcsStore against the in-repo GCS JSON API emulator, driven through @google-cloud/storage with its
 * endpoint option (CRDB_CMEK_GCS_ENDPOINT): the ObjectStore contract with a small page size, a 100 MiB
 * resumable streaming upload with bounded memory, fault injection, auth options and redaction.
 */
import { StorageError, UsageError } from '../../src/errors';
import { openStore } from '../../src/storage';
import { GcsStore, gcsAuthOptions } from '../../src/storage/gcs';
import { parseGcsUri } from '../../src/storage/uri';
import { startGcsEmulator, type GcsEmulator } from '../emulators/gcs-server';
import { collect, generatedStream, pattern, peakMemoryDuring, sha256OfStream, storeContract, streamToBuffer } from './storage-contract';

let gcs: GcsEmulator;
let store: GcsStore;
const fast = { baseMs: 5, maxMs: 50, timeoutMs: 2000 };

beforeAll(async () => {
  gcs = await startGcsEmulator();
  store = await GcsStore.open(gcs.uriFor('contract'), { env: gcs.env, pageSize: 7 });
});
afterAll(async () => {
  await store?.close();
  await gcs?.stop();
});

storeContract('gcs', { store: () => store, paginationCount: 30 });

describe('gcs store specifics', () => {
  test('openStore registers gs:// and honours the endpoint knob; listing pages are small', async () => {
    const s = await openStore(gcs.uriFor('contract'), { env: gcs.env, pageSize: 7 });
    expect(s).toBeInstanceOf(GcsStore);
    const before = gcs.requests.length;
    const listed = await collect(s.list('p/'));
    expect(listed.length).toBe(30);
    const listCalls = gcs.requests.slice(before).filter((r) => r.method === 'GET' && /\/o\?/.test(r.url));
    expect(listCalls.length).toBe(Math.ceil(30 / 7));
    expect(listCalls.some((r) => /pageToken=/.test(r.url))).toBe(true);
  });

  test('256 MiB streamed through a resumable upload with bounded memory, bytes checked by SHA-256', async () => {
    // The emulator runs in this process, so its buffers and the library's count too: live memory during a
    // streamed upload measured 28-71 MiB here whatever the chunk size, varying with timing. A buffered
    // upload would hold the whole object, so the object is made large enough (256 MiB) that half of it
    // separates the two cases with a wide margin either way.
    const size = 256 * 1024 * 1024;
    const w = await GcsStore.open(gcs.uriFor('contract'), { env: gcs.env, chunkSize: 8 * 1024 * 1024 });
    await w.write('big/warm-up', generatedStream(9 * 1024 * 1024).stream);
    const gen = generatedStream(size);
    const before = gcs.requests.length;
    const { peakGrowth } = await peakMemoryDuring(() => w.write('big/object.bin', gen.stream));
    expect(peakGrowth).toBeLessThan(size / 2);
    const puts = gcs.requests.slice(before).filter((r) => r.method === 'PUT');
    expect(puts.length).toBeGreaterThanOrEqual(32); // chunked: 256 MiB / 8 MiB
    expect(await w.stat('big/object.bin')).toEqual({ key: 'big/object.bin', size });
    const back = await sha256OfStream(await w.createReadStream('big/object.bin'));
    expect(back).toEqual({ sha256: gen.sha256(), bytes: size });
    await w.delete('big/object.bin');
  }, 180_000);

  test('GOOGLE_BILLING_PROJECT is sent as userProject', async () => {
    const s = await GcsStore.open(gcs.uriFor('contract', { BEARER_TOKEN: 't0ken-value', GOOGLE_BILLING_PROJECT: 'payer-proj' }), { env: gcs.env });
    const before = gcs.requests.length;
    await s.stat('c/obj.bin');
    expect(gcs.requests.slice(before).every((r) => /userProject=payer-proj/.test(r.url))).toBe(true);
  });

  test('BEARER_TOKEN is sent as Authorization: Bearer when auth to the endpoint is on', async () => {
    const s = await GcsStore.open(gcs.uriFor('contract', { BEARER_TOKEN: 'tok-abc-123' }), { env: { ...gcs.env, CRDB_CMEK_GCS_ENDPOINT_AUTH: 'true' } });
    const before = gcs.requests.length;
    await s.write('auth/obj', Buffer.from('x'));
    await s.read('auth/obj');
    const seen = gcs.requests.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((r) => r.authorization === 'Bearer tok-abc-123')).toBe(true);
  });

  test('CREDENTIALS must be base64 service-account JSON (usage error that does not echo it)', async () => {
    const bad = Buffer.from('{"type":"service_account"}').toString('base64');
    const err = (await GcsStore.open(gcs.uriFor('x', { CREDENTIALS: bad }), { env: gcs.env }).catch((e: unknown) => e)) as UsageError;
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).not.toContain(bad);
    const notJson = (await GcsStore.open(gcs.uriFor('x', { CREDENTIALS: 'bm90IGpzb24=' }), { env: gcs.env }).catch((e: unknown) => e)) as UsageError;
    expect(notJson).toBeInstanceOf(UsageError);
    expect(notJson.message).not.toContain('bm90IGpzb24=');
  });

  test('auth options: CREDENTIALS, BEARER_TOKEN, ASSUME_ROLE chain', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const key = { type: 'service_account', client_email: 'sa@p.iam.gserviceaccount.com', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }), project_id: 'proj-1' };
    const b64 = Buffer.from(JSON.stringify(key)).toString('base64');
    const creds = await gcsAuthOptions(parseGcsUri(`gs://b/p?CREDENTIALS=${encodeURIComponent(b64)}`));
    expect(creds.projectId).toBe('proj-1');
    expect((creds.credentials as { client_email: string }).client_email).toBe('sa@p.iam.gserviceaccount.com');
    const bearer = await gcsAuthOptions(parseGcsUri('gs://b/p?BEARER_TOKEN=abc'));
    const h = await (bearer.authClient as unknown as { getRequestHeaders(): Promise<Record<string, string>> }).getRequestHeaders();
    expect(h.Authorization ?? (h as unknown as Headers).get?.('authorization')).toBe('Bearer abc');
    const chain = await gcsAuthOptions(parseGcsUri('gs://b/p?BEARER_TOKEN=abc&ASSUME_ROLE=a@p.iam.gserviceaccount.com,b@p.iam.gserviceaccount.com'));
    const imp = chain.authClient as unknown as { targetPrincipal: string; delegates: string[] };
    expect(imp.targetPrincipal).toBe('b@p.iam.gserviceaccount.com');
    expect(imp.delegates).toEqual(['a@p.iam.gserviceaccount.com']);
  });
});

describe('gcs fault injection', () => {
  let faulty: GcsStore;
  const body = pattern(300_000, 21);
  beforeAll(async () => {
    faulty = await GcsStore.open(gcs.uriFor('faults'), { env: gcs.env, policy: { ...fast, attempts: 5 }, budget: 100 });
    gcs.put('faults/obj', body);
  });

  test('503, 429, 500 and a reset are retried; reads, stats and lists succeed', async () => {
    gcs.inject(503, 429, 500, 'reset');
    expect((await faulty.read('obj')).equals(body)).toBe(true);
    gcs.inject(503, 'reset');
    expect((await faulty.stat('obj'))?.size).toBe(body.length);
    gcs.inject(429);
    expect((await collect(faulty.list(''))).map((o) => o.key)).toEqual(['obj']);
    expect(gcs.pending()).toBe(0);
  });

  test('a stalled request times out and is retried', async () => {
    const s = await GcsStore.open(gcs.uriFor('faults'), { env: gcs.env, policy: { ...fast, timeoutMs: 500 }, budget: 10 });
    gcs.inject('stall');
    const t0 = Date.now();
    expect((await s.readRange('obj', 5, 105)).equals(body.subarray(5, 105))).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(gcs.pending()).toBe(0);
  });

  test('a media stream cut in the middle resumes at the byte reached', async () => {
    gcs.injectWhen((r) => /alt=media/.test(r.url ?? ''), 'truncate', 'reset');
    expect((await streamToBuffer(await faulty.createReadStream('obj'))).equals(body)).toBe(true);
    expect(gcs.pending()).toBe(0);
  });

  test('resumable upload chunks that fail are retried by the library within our budget', async () => {
    const w = await GcsStore.open(gcs.uriFor('faults'), { env: gcs.env, policy: fast, budget: 20, chunkSize: 256 * 1024 });
    const gen = generatedStream(1024 * 1024 + 123);
    gcs.injectWhen((r) => r.method === 'PUT', 'pass', 503);
    await w.write('up.bin', gen.stream);
    expect(gcs.pending()).toBe(0);
    expect(w.retry.budget.spent).toBeGreaterThanOrEqual(1);
    const back = await sha256OfStream(await w.createReadStream('up.bin'));
    expect(back.sha256).toBe(gen.sha256());
  }, 60_000);

  test('persistent 503: StorageError exit 4 naming the object and the reason, after the attempts', async () => {
    gcs.inject(...Array(5).fill(503));
    const err = (await faulty.read('obj').catch((e: unknown) => e)) as StorageError;
    expect(err).toBeInstanceOf(StorageError);
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain('gs://test-bucket/faults/obj');
    expect(err.message).toMatch(/HTTP 503/);
    expect(err.message).toMatch(/gave up after 5 attempts/);
    expect(gcs.pending()).toBe(0);
  });

  test('budget exhausted: later failures are final; a failed upload leaves no object', async () => {
    const s = await GcsStore.open(gcs.uriFor('faults'), { env: gcs.env, policy: { ...fast, attempts: 10 }, budget: 2 });
    gcs.inject(503, 503, 503);
    const err = (await s.stat('obj').catch((e: unknown) => e)) as StorageError;
    expect(err).toBeInstanceOf(StorageError);
    expect(err.message).toMatch(/retry budget exhausted/);
    gcs.injectWhen((r) => r.method === 'POST' || r.method === 'PUT', 503, 503, 503, 503);
    const werr = (await s.write('never', pattern(100, 1)).catch((e: unknown) => e)) as StorageError;
    expect(werr).toBeInstanceOf(StorageError);
    expect(werr.exitCode).toBe(4);
    expect(gcs.objects().includes('faults/never')).toBe(false);
  });

  test('403 is not retried: access denied, exit 4', async () => {
    const before = gcs.requests.length;
    gcs.inject(403);
    const err = (await faulty.read('obj').catch((e: unknown) => e)) as StorageError;
    expect(err.exitCode).toBe(4);
    expect(err.message).toMatch(/^access denied: read gs:\/\/test-bucket\/faults\/obj/);
    expect(gcs.requests.length - before).toBe(1);
  });
});
