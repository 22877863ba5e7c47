/**
 * A tiny fault-injecting HTTP proxy for tests, to put in front of s3rver (or any HTTP service):
 *
 *   const proxy = await startFaultProxy(s3.endpoint);          // flavor 's3' error bodies by default
 *   const uri = s3.uriFor('coll', { endpoint: proxy.endpoint }); // route the store through it
 *   proxy.inject('slowdown', 'reset', 'stall');                 // the next 3 requests fail like that
 *   proxy.injectWhen((r) => r.method === 'PUT', 503);           // the next PUT answers 503
 *   ...; await proxy.stop();
 *
 * Faults: 'pass' (forward untouched; use it to skip requests), an HTTP status (503, 500, 429...),
 * 'slowdown' (S3 503 SlowDown), 'reset' (TCP RST, no answer), 'stall' (never answers), 'truncate'
 * (forwards, then cuts the response body in the middle), or { status, code, message }.
 * Requests are forwarded byte for byte with their headers (SigV4 signatures stay valid: the Host
 * header is kept). The same Fault type and writeFault() serve the in-repo GCS emulator.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | 'pass'
  | 'slowdown'
  | 'reset'
  | 'stall'
  | 'truncate'
  | number
  | { status: number; code?: string; message?: string; headers?: Record<string, string> };

export type Flavor = 's3' | 'gcs';

export interface FaultRule {
  /** Only requests this accepts consume the fault (default: any request). */
  match?: (req: http.IncomingMessage) => boolean;
}

interface Pending {
  fault: Fault;
  match?: (req: http.IncomingMessage) => boolean;
}

/** A queue of scheduled faults, consumed one per matching request. */
export class FaultSchedule {
  private queue: Pending[] = [];
  /** Every request seen (method and URL), for assertions. */
  readonly seen: { method: string; url: string; fault?: Fault }[] = [];

  inject(...items: (Fault | FaultRule)[]): void {
    let match: Pending['match'];
    for (const it of items) {
      if (typeof it === 'object' && it !== null && 'match' in it && !('status' in it)) {
        match = (it as FaultRule).match;
        continue;
      }
      this.queue.push({ fault: it as Fault, match });
    }
  }

  /** Schedules faults for the next requests that match (e.g. only PUTs, only one URL). */
  injectWhen(match: (req: http.IncomingMessage) => boolean, ...faults: Fault[]): void {
    for (const fault of faults) this.queue.push({ fault, match });
  }

  /** Faults not yet consumed. */
  pending(): number {
    return this.queue.length;
  }

  clear(): void {
    this.queue = [];
  }

  /** The fault for this request (undefined = behave normally). */
  next(req: http.IncomingMessage): Fault | undefined {
    const i = this.queue.findIndex((p) => !p.match || p.match(req));
    const fault = i >= 0 ? this.queue.splice(i, 1)[0].fault : undefined;
    this.seen.push({ method: req.method ?? '', url: req.url ?? '', fault });
    return fault === 'pass' ? undefined : fault;
  }
}

const S3_CODES: Record<number, [string, string]> = {
  500: ['InternalError', 'We encountered an internal error. Please try again.'],
  502: ['BadGateway', 'Bad gateway.'],
  503: ['ServiceUnavailable', 'Service is unable to handle request.'],
  504: ['GatewayTimeout', 'Gateway timeout.'],
  429: ['TooManyRequests', 'Too many requests.'],
  403: ['AccessDenied', 'Access Denied'],
};

/**
 * Answers a request with a fault. Returns false for 'truncate' (the caller must produce the body and
 * cut it) — every other fault is fully handled here. Stalled requests are remembered in `stalled`.
 */
export function writeFault(req: http.IncomingMessage, res: http.ServerResponse, fault: Fault, flavor: Flavor, stalled?: Set<http.ServerResponse>): boolean {
  if (fault === 'truncate' || fault === 'pass') return false;
  if (fault === 'reset') {
    req.socket.resetAndDestroy();
    return true;
  }
  if (fault === 'stall') {
    stalled?.add(res);
    req.resume();
    return true;
  }
  let status: number;
  let code: string;
  let message: string;
  let headers: Record<string, string> = {};
  if (fault === 'slowdown') {
    status = 503;
    code = 'SlowDown';
    message = 'Please reduce your request rate.';
  } else if (typeof fault === 'number') {
    status = fault;
    [code, message] = S3_CODES[fault] ?? ['Error', `injected HTTP ${fault}`];
  } else {
    status = fault.status;
    code = fault.code ?? S3_CODES[fault.status]?.[0] ?? 'Error';
    message = fault.message ?? S3_CODES[fault.status]?.[1] ?? `injected HTTP ${fault.status}`;
    headers = fault.headers ?? {};
  }
  req.resume();
  let body: string;
  if (flavor === 's3') {
    body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault</RequestId></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), ...headers });
  } else {
    const reason = status === 429 ? 'rateLimitExceeded' : status === 503 ? 'backendError' : status === 403 ? 'forbidden' : code;
    body = JSON.stringify({ error: { code: status, message, errors: [{ domain: 'global', reason, message }] } });
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(body), ...headers });
  }
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT of the proxy. */
  endpoint: string;
  port: number;
  schedule: FaultSchedule;
  /** Schedules faults for the next matching requests (see the file comment). */
  inject(...items: (Fault | FaultRule)[]): void;
  /** Schedules faults for the next requests that match. */
  injectWhen(match: (req: http.IncomingMessage) => boolean, ...faults: Fault[]): void;
  /** Faults not yet consumed. */
  pending(): number;
  stop(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1:0 forwarding to target (e.g. "http://127.0.0.1:4568"). */
export async function startFaultProxy(target: string, opts: { flavor?: Flavor } = {}): Promise<FaultProxy> {
  const flavor = opts.flavor ?? 's3';
  const t = new URL(target);
  const schedule = new FaultSchedule();
  const stalled = new Set<http.ServerResponse>();
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const fault = schedule.next(req);
    if (fault !== undefined && writeFault(req, res, fault, flavor, stalled)) return;
    const up = http.request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers, agent },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        if (fault === 'truncate') {
          const total = Number(ur.headers['content-length'] ?? 0);
          let sent = 0;
          const cut = Math.max(1, Math.floor(total / 2));
          ur.on('data', (c: Buffer) => {
            if (sent >= cut) return;
            const part = c.subarray(0, cut - sent);
            sent += part.length;
            res.write(part);
            if (sent >= cut) {
              ur.destroy();
              setImmediate(() => res.socket?.destroy());
            }
          });
          ur.on('end', () => res.socket?.destroy());
          return;
        }
        ur.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    schedule,
    inject: (...items) => schedule.inject(...items),
    injectWhen: (match, ...faults) => schedule.injectWhen(match, ...faults),
    pending: () => schedule.pending(),
    stop: async () => {
      for (const r of stalled) r.socket?.destroy();
      stalled.clear();
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
