/**
 * One shape for every key-service failure: a KeyError (exit 3) that names the key (redacted URI) and
 * the service's own reason ("DisabledException: key ... is disabled"), with secrets scrubbed.
 */
import { KeyError } from '../errors';
import { scrub } from '../redact';

export class KmsRefusedError extends KeyError {
  /** The service's own error name, e.g. 'DisabledException', 'FAILED_PRECONDITION', 'permission denied'. */
  readonly reason: string;
  /** The service's own message, scrubbed. */
  readonly detail: string;
  readonly provider: string;
  readonly keyId: string;
  constructor(opts: { provider: string; keyId: string; displayUri: string; op: string; reason: string; detail: string; secrets: string[]; hint?: string }) {
    const detail = scrub(opts.detail, opts.secrets).trim();
    const reason = scrub(opts.reason, opts.secrets);
    super(
      scrub(`${opts.provider} key ${opts.keyId} refused to ${opts.op} (${opts.displayUri}): ${reason}${detail ? `: ${detail}` : ''}`, opts.secrets),
      opts.hint,
    );
    this.reason = reason;
    this.detail = detail;
    this.provider = opts.provider;
    this.keyId = opts.keyId;
  }
}

/** Node network error codes that mean "the service could not be reached". */
export const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED', 'UND_ERR_CONNECT_TIMEOUT']);

/** Finds a Node network error code on an error or its causes. */
export function networkCode(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown; errors?: unknown[] } | undefined;
  for (let i = 0; e && i < 5; i++) {
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
    if (Array.isArray(e.errors)) {
      for (const sub of e.errors) {
        const c = networkCode(sub);
        if (c) return c;
      }
    }
    e = e.cause as typeof e;
  }
  // Some SDKs wrap the Node error and keep only its text ("AWS SDK error wrapper for Error: connect ECONNREFUSED").
  const text = String((err as { message?: unknown })?.message ?? '');
  for (const c of NETWORK_CODES) if (new RegExp(`\\b${c}\\b`).test(text)) return c;
  return undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Exponential backoff with full jitter. */
export function backoffMs(attempt: number, baseMs: number, capMs = 5000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}
