import { PassThrough, Readable } from 'node:stream';
import { StorageError, IntegrityError } from '../../src/errors';
import {
  backoffDelay,
  classifyError,
  newRetryContext,
  readAll,
  RequestTimeoutError,
  ResumingReadable,
  RetryBudget,
  sdkRetryStrategy,
  withRetry,
} from '../../src/storage/retry';

const noSleep = { sleep: async () => undefined };
const httpErr = (status: number, name = 'Error', message = `status ${status}`) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
const netErr = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

describe('classifyError', () => {
  test.each([
    [httpErr(503, 'SlowDown', 'Please reduce your request rate.'), 'throttled', true],
    [httpErr(503), 'throttled', true],
    [httpErr(429), 'throttled', true],
    [httpErr(500, 'InternalError'), 'server', true],
    [httpErr(502), 'server', true],
    [httpErr(504), 'server', true],
    [netErr('ECONNRESET'), 'network', true],
    [netErr('EPIPE'), 'network', true],
    [new Error('socket hang up'), 'network', true],
    [netErr('ETIMEDOUT'), 'timeout', true],
    [new RequestTimeoutError('x'), 'timeout', true],
    [httpErr(404, 'NoSuchKey', 'The specified key does not exist.'), 'not-found', false],
    [Object.assign(new Error('No such object: b/o'), { code: 404, errors: [{ reason: 'notFound' }] }), 'not-found', false],
    [httpErr(403, 'AccessDenied', 'Access Denied'), 'access-denied', false],
    [Object.assign(new Error('forbidden'), { response: { status: 401 } }), 'access-denied', false],
    [httpErr(400, 'InvalidArgument'), 'client', false],
  ])('case %#', (err, kind, retryable) => {
    const c = classifyError(err);
    expect(c.kind).toBe(kind);
    expect(c.retryable).toBe(retryable);
  });

  test('the reason carries the service code and status', () => {
    expect(classifyError(httpErr(503, 'SlowDown', 'Please reduce your request rate.')).reason).toBe('Please reduce your request rate. (SlowDown, HTTP 503)');
    expect(classifyError(httpErr(404, 'NoSuchKey', 'The specified key does not exist.')).code).toBe('NoSuchKey');
  });
});

describe('backoff', () => {
  test('full jitter: uniformly below min(max, base * 2^n)', () => {
    expect(backoffDelay(0, 100, 10_000, () => 0.999)).toBe(99);
    expect(backoffDelay(3, 100, 10_000, () => 0.5)).toBe(400);
    expect(backoffDelay(20, 100, 10_000, () => 0.999)).toBe(9990);
    expect(backoffDelay(5, 100, 10_000, () => 0)).toBe(0);
    const samples = Array.from({ length: 500 }, () => backoffDelay(4, 100, 10_000));
    expect(Math.max(...samples)).toBeLessThan(1600);
    expect(new Set(samples).size).toBeGreaterThan(50);
  });
});

describe('withRetry', () => {
  test('retries retryable errors, then succeeds; sleeps with growing ceilings', async () => {
    const errs = [httpErr(503, 'SlowDown'), netErr('ECONNRESET'), httpErr(500)];
    const delays: number[] = [];
    let calls = 0;
    const v = await withRetry(
      async () => {
        calls++;
        const e = errs.shift();
        if (e) throw e;
        return 'ok';
      },
      { baseMs: 10, maxMs: 1000, sleep: async () => undefined, onRetry: (_e, _n, d) => delays.push(d) },
    );
    expect(v).toBe('ok');
    expect(calls).toBe(4);
    expect(delays.length).toBe(3);
    delays.forEach((d, i) => expect(d).toBeLessThan(10 * 2 ** i));
  });

  test('non-retryable errors fail at once with StorageError naming the object and the reason', async () => {
    let calls = 0;
    const err = (await withRetry(
      async () => {
        calls++;
        throw httpErr(403, 'AccessDenied', 'Access Denied');
      },
      { ...noSleep, action: 'read', what: 's3://b/p/obj' },
    ).catch((e: unknown) => e)) as StorageError;
    expect(calls).toBe(1);
    expect(err).toBeInstanceOf(StorageError);
    expect(err.exitCode).toBe(4);
    expect(err.message).toBe('access denied: read s3://b/p/obj: Access Denied (AccessDenied, HTTP 403)');
    expect(err.reason).toBe('AccessDenied');
  });

  test('gives up after the attempts with the last reason', async () => {
    let calls = 0;
    const err = (await withRetry(
      async () => {
        calls++;
        throw httpErr(503, 'SlowDown', 'Please reduce your request rate.');
      },
      { ...noSleep, attempts: 4, action: 'list', what: 'gs://b/p' },
    ).catch((e: unknown) => e)) as StorageError;
    expect(calls).toBe(4);
    expect(err.message).toBe('list gs://b/p: Please reduce your request rate. (SlowDown, HTTP 503) (gave up after 4 attempts)');
  });

  test('a shared budget caps retries across operations', async () => {
    const budget = new RetryBudget(3);
    let calls = 0;
    const failing = () =>
      withRetry(
        async () => {
          calls++;
          throw netErr('ECONNRESET');
        },
        { ...noSleep, attempts: 10, budget },
      ).catch((e: unknown) => e as StorageError);
    const e1 = await failing();
    expect(calls).toBe(4); // 1 + 3 retries
    expect(e1.message).toMatch(/retry budget exhausted/);
    const e2 = await failing();
    expect(calls).toBe(5); // no retry left
    expect(e2.message).toMatch(/retry budget exhausted/);
    expect(budget.remaining).toBe(0);
  });

  test('per-attempt timeout abandons a stalled attempt and retries it', async () => {
    let calls = 0;
    let aborted = false;
    const v = await withRetry(
      async (_n, signal) => {
        calls++;
        if (calls === 1) {
          signal.addEventListener('abort', () => (aborted = true));
          return new Promise<string>(() => undefined);
        }
        return 'second';
      },
      { ...noSleep, timeoutMs: 50 },
    );
    expect(v).toBe('second');
    expect(aborted).toBe(true);
  });

  test('CliErrors pass through untouched (e.g. an integrity failure from the data)', async () => {
    const ie = new IntegrityError('chunk 3 failed authentication');
    await expect(withRetry(async () => Promise.reject(ie), noSleep)).rejects.toBe(ie);
  });

  test('secrets are scrubbed from messages', async () => {
    const err = (await withRetry(async () => Promise.reject(httpErr(400, 'Bad', 'token=SUPERSECRET1 rejected')), { ...noSleep, secrets: ['SUPERSECRET1'] }).catch(
      (e: unknown) => e,
    )) as StorageError;
    expect(err.message).not.toContain('SUPERSECRET1');
    expect(err.message).toContain('redacted');
  });
});

describe('sdkRetryStrategy (AWS SDK retry middleware adapter)', () => {
  test('retries retryable errors within attempts and budget; refuses others', async () => {
    const ctx = newRetryContext({ policy: { attempts: 3, baseMs: 10, maxMs: 100 }, budget: 10 });
    const s = sdkRetryStrategy(ctx);
    let t = await s.acquireInitialRetryToken();
    t = await s.refreshRetryTokenForRetry(t, { error: httpErr(503, 'SlowDown'), errorType: 'THROTTLING' });
    expect(t.getRetryCount()).toBe(1);
    expect(t.getRetryDelay()).toBeLessThan(10);
    t = await s.refreshRetryTokenForRetry(t, { error: netErr('ECONNRESET'), errorType: 'TRANSIENT' });
    expect(t.getRetryCount()).toBe(2);
    await expect(s.refreshRetryTokenForRetry(t, { error: httpErr(503), errorType: 'THROTTLING' })).rejects.toThrow(); // attempts
    await expect(s.refreshRetryTokenForRetry(await s.acquireInitialRetryToken(), { error: httpErr(404, 'NoSuchKey'), errorType: 'CLIENT_ERROR' })).rejects.toThrow();
    expect(ctx.budget.spent).toBe(2);
  });

  test('marks the error when the budget is exhausted', async () => {
    const ctx = newRetryContext({ policy: { attempts: 5 }, budget: 0 });
    const s = sdkRetryStrategy(ctx);
    const e = httpErr(503);
    await expect(s.refreshRetryTokenForRetry(await s.acquireInitialRetryToken(), { error: e, errorType: 'THROTTLING' })).rejects.toThrow(/budget/);
    expect((e as unknown as { $budgetExhausted: boolean }).$budgetExhausted).toBe(true);
  });
});

describe('ResumingReadable', () => {
  const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));

  /** A body that sends [pos, cutAt) then fails (or ends early), after which opens serve the rest. */
  function source(failures: ('error' | 'end' | 'stall')[]) {
    const opens: number[] = [];
    const open = async (pos: number) => {
      opens.push(pos);
      const f = failures.shift();
      const p = new PassThrough();
      const cut = f ? Math.min(data.length, pos + 3000) : data.length;
      p.write(data.subarray(pos, cut));
      if (f === 'error') setImmediate(() => p.destroy(netErr('ECONNRESET')));
      else if (f === 'end') p.end();
      else if (f === 'stall') {
        /* never ends */
      } else p.end();
      return p;
    };
    return { open, opens };
  }

  async function read(r: Readable) {
    const parts: Buffer[] = [];
    for await (const c of r) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  test('reopens at the byte reached after resets, short bodies and stalls', async () => {
    const { open, opens } = source(['error', 'end', 'stall']);
    const ctx = { ...newRetryContext({ policy: { attempts: 6, baseMs: 1, maxMs: 2, timeoutMs: 100 }, budget: 10 }), ...noSleep };
    const r = new ResumingReadable(open, 0, data.length, ctx, 'read', 'mem://obj');
    expect((await read(r)).equals(data)).toBe(true);
    expect(opens).toEqual([0, 3000, 6000, 9000]);
    expect(ctx.budget.spent).toBe(3);
  });

  test('a sub-range resumes inside the range', async () => {
    const { open, opens } = source(['error']);
    const ctx = { ...newRetryContext({ policy: { baseMs: 1, maxMs: 2 } }), ...noSleep };
    const r = new ResumingReadable(open, 100, 5000, ctx, 'read', 'mem://obj');
    expect((await read(r)).equals(data.subarray(100, 5000))).toBe(true);
    expect(opens).toEqual([100, 3100]);
  });

  test('fails with StorageError when the budget is spent', async () => {
    const { open } = source(['error', 'error', 'error']);
    const ctx = { ...newRetryContext({ policy: { attempts: 10, baseMs: 1, maxMs: 2 }, budget: 1 }), ...noSleep };
    const r = new ResumingReadable(open, 0, data.length, ctx, 'read', 'mem://obj');
    const err = (await read(r).catch((e: unknown) => e)) as StorageError;
    expect(err).toBeInstanceOf(StorageError);
    expect(err.message).toMatch(/^read mem:\/\/obj: .*ECONNRESET.*retry budget exhausted/);
  });
});

test('readAll: a short body is a retryable truncation', async () => {
  const err = await readAll(Readable.from([Buffer.alloc(10)]), 20).catch((e: unknown) => e);
  expect(classifyError(err).retryable).toBe(true);
  expect((await readAll(Readable.from([Buffer.alloc(10), Buffer.alloc(5)]), 15)).length).toBe(15);
});
