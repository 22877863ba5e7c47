/**
 * Resilient I/O for object stores: exponential backoff with full jitter, per-attempt timeouts, and a
 * retry budget shared by every request of one store, after which the operation fails with a
 * StorageError (exit 4) that names the object and the service's own reason.
 *
 * Retryable: throttling (HTTP 429, 503, S3 SlowDown and the other SDK throttling codes), server errors
 * 500/502/504, connection resets and refusals (ECONNRESET, EPIPE, ECONNREFUSED, "socket hang up"),
 * timeouts (ETIMEDOUT, our own per-attempt timeout) and truncated bodies. Not retryable: not found,
 * access denied and every other 4xx: they fail at once, with the reason.
 *
 * The same policy drives three things: withRetry() loops (GCS requests, reading bodies), the AWS SDK's
 * retry middleware (sdkRetryStrategy(), so every S3 HTTP request, multipart parts included, follows it)
 * and ResumingReadable (a stream that reopens at the byte it had reached after a mid-body failure).
 */
import { Readable } from 'node:stream';
import { CliError, StorageError } from '../errors';
import { scrub } from '../redact';

export interface RetryPolicy {
  /** Attempts per request, the first included. */
  attempts: number;
  /** First backoff ceiling; the n-th retry waits a random time in [0, min(maxMs, baseMs * 2^n)). */
  baseMs: number;
  maxMs: number;
  /** A request (or a stream that delivers nothing) longer than this is abandoned and retried. */
  timeoutMs: number;
}

export const DEFAULT_POLICY: RetryPolicy = { attempts: 6, baseMs: 250, maxMs: 20_000, timeoutMs: 60_000 };

/** Retries allowed in total across one store's requests (so a sick service fails a run, not a day). */
export const DEFAULT_BUDGET = 200;

/** A pool of retries shared by every request of one store. */
export class RetryBudget {
  private used = 0;
  constructor(readonly total: number = DEFAULT_BUDGET) {}
  /** Takes one retry from the pool; false when it is empty. */
  take(): boolean {
    if (this.used >= this.total) return false;
    this.used++;
    return true;
  }
  get spent(): number {
    return this.used;
  }
  get remaining(): number {
    return Math.max(0, this.total - this.used);
  }
}

/** Full-jitter exponential backoff (AWS architecture blog): random in [0, min(max, base * 2^retry)). */
export function backoffDelay(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(retry, 30));
  return Math.floor(random() * ceiling);
}

/** Raised by our own per-attempt or idle timeouts. */
export class RequestTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/** A body that ended before the bytes the service promised. */
export class TruncatedBodyError extends Error {
  readonly code = 'ETRUNCATED';
  constructor(message: string) {
    super(message);
    this.name = 'TruncatedBody';
  }
}

export type ErrorKind = 'not-found' | 'access-denied' | 'throttled' | 'server' | 'network' | 'timeout' | 'client' | 'unknown';

export interface Classified {
  kind: ErrorKind;
  retryable: boolean;
  /** HTTP status when there was one. */
  status?: number;
  /** The service's own reason: an error code such as NoSuchKey/SlowDown, or a short message. */
  reason: string;
  /** The service's error code (NoSuchKey, SlowDown, notFound...), when it gave one. */
  code?: string;
}

const NET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const THROTTLE_NAMES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'BandwidthLimitExceeded', 'RequestThrottled', 'rateLimitExceeded', 'userRateLimitExceeded']);
const NOT_FOUND_NAMES = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket', 'NoSuchUpload']);
const DENIED_NAMES = new Set(['AccessDenied', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'AllAccessDisabled']);

type AnyErr = {
  name?: string;
  code?: string | number;
  status?: number;
  statusCode?: number;
  message?: string;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  response?: { status?: number };
  errors?: { reason?: string; message?: string }[];
  Code?: string;
};

function statusOf(e: AnyErr): number | undefined {
  const s = e.$metadata?.httpStatusCode ?? (typeof e.code === 'number' ? e.code : undefined) ?? e.status ?? e.statusCode ?? e.response?.status;
  return typeof s === 'number' && s >= 100 && s < 600 ? s : undefined;
}

/** Classifies an error from the AWS SDK, the GCS client (gaxios / ApiError) or Node's network stack. */
export function classifyError(err: unknown, depth = 0): Classified {
  const e = (err ?? {}) as AnyErr;
  const status = statusOf(e);
  const code = typeof e.code === 'string' ? e.code : undefined;
  const name = e.Code ?? (e.name && e.name !== 'Error' ? e.name : undefined);
  const gReason = e.errors?.[0]?.reason;
  const msg = (e.message ?? String(err)).split('\n')[0].slice(0, 300);
  const svcCode = (name && !/^(S3ServiceException|ApiError|GaxiosError|Error|TypeError)$/.test(name) ? name : undefined) ?? gReason ?? code;
  const reasonOf = (fallback: string) => {
    const tag = [svcCode, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
    const text = msg && msg !== name && !/^UnknownError$/.test(msg) ? msg : fallback;
    return tag ? `${text} (${tag})` : text;
  };
  if (e instanceof RequestTimeoutError || TIMEOUT_CODES.has(code ?? '') || name === 'TimeoutError' || name === 'RequestTimeout') {
    return { kind: 'timeout', retryable: true, status, code: svcCode, reason: reasonOf('request timed out') };
  }
  if (e instanceof TruncatedBodyError) return { kind: 'network', retryable: true, status, code: svcCode, reason: reasonOf('body truncated') };
  if (name === 'AbortError') return { kind: 'unknown', retryable: false, status, code: svcCode, reason: reasonOf('aborted') };
  if (status === 404 || NOT_FOUND_NAMES.has(name ?? '') || NOT_FOUND_NAMES.has(gReason ?? '')) {
    return { kind: 'not-found', retryable: false, status, code: svcCode, reason: reasonOf('not found') };
  }
  if (status === 401 || status === 403 || DENIED_NAMES.has(name ?? '') || gReason === 'forbidden') {
    return { kind: 'access-denied', retryable: false, status, code: svcCode, reason: reasonOf('access denied') };
  }
  if (status === 429 || status === 503 || THROTTLE_NAMES.has(name ?? '') || THROTTLE_NAMES.has(gReason ?? '')) {
    return { kind: 'throttled', retryable: true, status, code: svcCode, reason: reasonOf('throttled') };
  }
  if (status === 500 || status === 502 || status === 504 || name === 'InternalError') {
    return { kind: 'server', retryable: true, status, code: svcCode, reason: reasonOf('server error') };
  }
  if (NET_CODES.has(code ?? '') || /socket hang up|ECONNRESET|EPIPE|other side closed|premature close/i.test(msg)) {
    return { kind: 'network', retryable: true, status, code: svcCode, reason: reasonOf('connection failed') };
  }
  if (status !== undefined && status >= 400 && status < 500) return { kind: 'client', retryable: false, status, code: svcCode, reason: reasonOf('request refused') };
  if (status !== undefined && status >= 500) return { kind: 'server', retryable: true, status, code: svcCode, reason: reasonOf('server error') };
  if (e.cause && depth < 5) {
    const inner = classifyError(e.cause, depth + 1);
    if (inner.kind !== 'unknown') return inner;
  }
  return { kind: 'unknown', retryable: false, status, code: svcCode, reason: reasonOf('failed') };
}

export interface RetryContext {
  policy: RetryPolicy;
  budget: RetryBudget;
  /** Secrets to scrub from any message built from a service error. */
  secrets: string[];
  /** Test hook: replaces setTimeout-based sleeping. */
  sleep?: (ms: number) => Promise<void>;
}

export function newRetryContext(opts: { policy?: Partial<RetryPolicy>; budget?: RetryBudget | number; secrets?: string[] } = {}): RetryContext {
  const budget = opts.budget instanceof RetryBudget ? opts.budget : new RetryBudget(opts.budget ?? DEFAULT_BUDGET);
  return { policy: { ...DEFAULT_POLICY, ...(opts.policy ?? {}) }, budget, secrets: opts.secrets ?? [] };
}

export interface WithRetryOptions {
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
  /** Per-attempt timeout (0 = none). */
  timeoutMs?: number;
  budget?: RetryBudget;
  isRetryable?: (err: unknown) => boolean;
  /** The service's reason for an error (default: classifyError(err).reason). */
  describe?: (err: unknown) => string;
  /** What is being done, e.g. "read", "list". */
  action?: string;
  /** The object, already redacted (e.g. "s3://bucket/prefix/key"). */
  what?: string;
  secrets?: string[];
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (err: unknown, retry: number, delayMs: number) => void;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

/** Builds the StorageError for a failure: "<action> <what>: <reason>" with the service's reason. */
export function toStorageError(err: unknown, o: { action?: string; what?: string; secrets?: string[]; attempts?: number; budgetExhausted?: boolean; describe?: (e: unknown) => string }): CliError {
  if (err instanceof CliError) return err;
  const c = classifyError(err);
  const reason = scrub(o.describe ? o.describe(err) : c.reason, o.secrets ?? []);
  const head = c.kind === 'not-found' ? 'not found' : c.kind === 'access-denied' ? 'access denied' : undefined;
  const where = [o.action, o.what].filter(Boolean).join(' ');
  let msg = head ? `${head}: ${where}: ${reason}` : `${where ? `${where}: ` : ''}${reason}`;
  if (c.retryable && (o.attempts ?? 0) > 1) {
    msg += ` (gave up after ${o.attempts} attempts${o.budgetExhausted ? '; retry budget exhausted' : ''})`;
  } else if (c.retryable && o.budgetExhausted) {
    msg += ' (retry budget exhausted)';
  }
  const hint =
    c.kind === 'access-denied'
      ? 'check the credentials in the URI (or AUTH=implicit and the environment) and the bucket policy'
      : c.kind === 'not-found'
        ? undefined
        : c.retryable
          ? 'the service kept failing; try again later or lower --concurrency'
          : undefined;
  return new StorageError(scrub(msg, o.secrets ?? []), c.code ?? c.kind, hint);
}

/** Races a promise against a timer; the timer aborts the attempt's signal. */
async function withTimeout<T>(p: (signal: AbortSignal) => Promise<T>, ms: number): Promise<T> {
  const ac = new AbortController();
  if (!ms) return p(ac.signal);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new RequestTimeoutError(`no answer within ${ms} ms`);
      ac.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([p(ac.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs op until it succeeds, a non-retryable error occurs, the attempts run out or the budget is empty.
 * Errors are turned into StorageError (CliErrors pass through untouched).
 */
export async function withRetry<T>(op: (attempt: number, signal: AbortSignal) => Promise<T>, o: WithRetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, o.attempts ?? DEFAULT_POLICY.attempts);
  const baseMs = o.baseMs ?? DEFAULT_POLICY.baseMs;
  const maxMs = o.maxMs ?? DEFAULT_POLICY.maxMs;
  const isRetryable = o.isRetryable ?? ((e: unknown) => classifyError(e).retryable);
  const sleep = o.sleep ?? realSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTimeout((signal) => op(attempt, signal), o.timeoutMs ?? 0);
    } catch (err) {
      if (err instanceof CliError) throw err;
      const retryable = isRetryable(err);
      if (!retryable || attempt >= attempts) {
        throw toStorageError(err, { ...o, attempts: attempt });
      }
      if (o.budget && !o.budget.take()) {
        throw toStorageError(err, { ...o, attempts: attempt, budgetExhausted: true });
      }
      const delay = backoffDelay(attempt - 1, baseMs, maxMs);
      o.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}

/** withRetry options from a store's retry context. */
export function retryOptions(ctx: RetryContext, action: string, what: string, extra: Partial<WithRetryOptions> = {}): WithRetryOptions {
  return {
    attempts: ctx.policy.attempts,
    baseMs: ctx.policy.baseMs,
    maxMs: ctx.policy.maxMs,
    timeoutMs: ctx.policy.timeoutMs,
    budget: ctx.budget,
    secrets: ctx.secrets,
    sleep: ctx.sleep,
    action,
    what,
    ...extra,
  };
}

/**
 * A RetryStrategyV2 for the AWS SDK v3 retry middleware, driven by our policy and shared budget, so
 * every S3 HTTP request (multipart parts included) backs off with full jitter and spends the store's
 * budget. The SDK does not retry requests whose body is a stream; lib-storage sends parts as buffers.
 */
export interface SdkRetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

export function sdkRetryStrategy(ctx: RetryContext) {
  type Token = SdkRetryToken;
  const token = (count: number, delay: number): Token => ({ getRetryCount: () => count, getRetryDelay: () => delay });
  return {
    mode: 'standard',
    async acquireInitialRetryToken(): Promise<Token> {
      return token(0, 0);
    },
    async refreshRetryTokenForRetry(t: Token, info: { error?: unknown; errorType?: string }): Promise<Token> {
      const n = t.getRetryCount();
      const c = classifyError(info.error);
      const retryable = c.retryable || info.errorType === 'THROTTLING' || (info.errorType === 'TRANSIENT' && c.kind !== 'not-found' && c.kind !== 'access-denied');
      if (!retryable || n + 1 >= ctx.policy.attempts) throw new Error('no more retries');
      if (!ctx.budget.take()) {
        const e = info.error as { $budgetExhausted?: boolean } | undefined;
        if (e && typeof e === 'object') e.$budgetExhausted = true;
        throw new Error('retry budget exhausted');
      }
      return token(n + 1, backoffDelay(n, ctx.policy.baseMs, ctx.policy.maxMs));
    },
    recordSuccess(): void {},
  };
}

/**
 * A readable over bytes [start, end) of one object that survives mid-body failures: when the body
 * errors, stalls (no data for timeoutMs) or ends early, it reopens at the next byte it needs, within
 * the policy and the shared budget. open(pos) must return the body of bytes [pos, end).
 */
export class ResumingReadable extends Readable {
  private pos: number;
  private src?: Readable;
  private retries = 0;
  private idle?: NodeJS.Timeout;
  private opening = false;

  constructor(
    private readonly open: (pos: number, signal: AbortSignal) => Promise<Readable>,
    start: number,
    private readonly end: number,
    private readonly ctx: RetryContext,
    private readonly action: string,
    private readonly what: string,
    first?: Readable,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.pos = start;
    if (first) this.attach(first);
  }

  override _read(): void {
    if (this.src) {
      // The consumer wants data again: the idle clock only runs while we are waiting on the service.
      this.arm();
      this.src.resume();
      return;
    }
    if (!this.opening) void this.openAt();
  }

  private async openAt(): Promise<void> {
    if (this.pos >= this.end) {
      this.push(null);
      return;
    }
    this.opening = true;
    try {
      const body = await withRetry((_, signal) => this.open(this.pos, signal), retryOptions(this.ctx, this.action, this.what));
      this.opening = false;
      if (this.destroyed) {
        body.destroy();
        return;
      }
      this.attach(body);
    } catch (e) {
      this.opening = false;
      this.destroy(e as Error);
    }
  }

  private arm(): void {
    clearTimeout(this.idle);
    if (!this.ctx.policy.timeoutMs) return;
    this.idle = setTimeout(() => {
      this.src?.destroy(new RequestTimeoutError(`no data for ${this.ctx.policy.timeoutMs} ms`));
    }, this.ctx.policy.timeoutMs);
  }

  private attach(src: Readable): void {
    this.src = src;
    this.arm();
    src.on('data', (chunk: Buffer) => {
      if (this.src !== src) return;
      this.arm();
      let c = chunk;
      if (this.pos + c.length > this.end) c = c.subarray(0, this.end - this.pos);
      this.pos += c.length;
      if (c.length > 0 && !this.push(c)) {
        // Backpressure: a slow consumer is not a stalled service.
        src.pause();
        clearTimeout(this.idle);
      }
    });
    src.once('end', () => {
      if (this.src !== src) return;
      clearTimeout(this.idle);
      this.src = undefined;
      if (this.pos >= this.end) this.push(null);
      else this.fail(src, new TruncatedBodyError(`body ended at byte ${this.pos} of ${this.end}`));
    });
    src.once('error', (err) => {
      if (this.src !== src) return;
      this.fail(src, err);
    });
  }

  private fail(src: Readable, err: unknown): void {
    clearTimeout(this.idle);
    this.src = undefined;
    src.removeAllListeners('data');
    src.on('error', () => undefined);
    src.destroy();
    if (this.destroyed) return;
    const c = classifyError(err);
    this.retries++;
    if (!c.retryable || this.retries >= this.ctx.policy.attempts) {
      this.destroy(toStorageError(err, { action: this.action, what: this.what, secrets: this.ctx.secrets, attempts: this.retries }));
      return;
    }
    if (!this.ctx.budget.take()) {
      this.destroy(toStorageError(err, { action: this.action, what: this.what, secrets: this.ctx.secrets, attempts: this.retries, budgetExhausted: true }));
      return;
    }
    const delay = backoffDelay(this.retries - 1, this.ctx.policy.baseMs, this.ctx.policy.maxMs);
    this.opening = true;
    void (this.ctx.sleep ?? realSleep)(delay).then(() => {
      this.opening = false;
      if (!this.destroyed) void this.openAt();
    });
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    clearTimeout(this.idle);
    const s = this.src;
    this.src = undefined;
    if (s) {
      s.on('error', () => undefined);
      s.destroy();
    }
    cb(err);
  }
}

/** Reads a whole stream into a buffer, failing on a short body (expected length known). */
export async function readAll(body: Readable, expected?: number, idleMs = 0): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  await new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (!idleMs) return;
      clearTimeout(timer);
      timer = setTimeout(() => body.destroy(new RequestTimeoutError(`no data for ${idleMs} ms`)), idleMs);
    };
    arm();
    body.on('data', (c: Buffer) => {
      arm();
      parts.push(c);
      n += c.length;
    });
    body.once('end', () => {
      clearTimeout(timer);
      resolve();
    });
    body.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  if (expected !== undefined && n < expected) throw new TruncatedBodyError(`body ended after ${n} of ${expected} bytes`);
  return Buffer.concat(parts, n);
}
