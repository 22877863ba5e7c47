/**
 * An in-repo emulator of the Google Cloud Storage JSON API, enough for @google-cloud/storage 7 driven
 * with apiEndpoint (our GcsStore reads it from CRDB_CMEK_GCS_ENDPOINT):
 *
 *   GET    /storage/v1/b/B/o?prefix&maxResults&pageToken        list (lexicographic, paginated)
 *   GET    /storage/v1/b/B/o/NAME                               metadata (size, md5Hash, crc32c...)
 *   GET    /storage/v1/b/B/o/NAME?alt=media (+ Range)           bytes, x-goog-hash, 206/416
 *   DELETE /storage/v1/b/B/o/NAME                               204 / 404
 *   POST   /upload/storage/v1/b/B/o?uploadType=multipart         one-shot upload (multipart/related)
 *   POST   /upload/storage/v1/b/B/o?uploadType=resumable         starts a session (Location header)
 *   PUT    <session> with Content-Range                          chunks: 308 + Range, last: 200 + metadata
 *
 * Objects live in a temporary directory (uploads are streamed to disk: a 100 MiB upload does not sit
 * in the test's memory). Hashes are real (MD5, CRC32C via src/util/crc32c) so the client's integrity
 * checks (which use the library's own CRC32C) pass.
 * Fault injection: inject(...) schedules faults for the next matching requests (see fault-proxy.ts:
 * 503, 429, 'reset', 'stall', 'truncate' for media reads, ...).
 *
 *   const gcs = await startGcsEmulator();
 *   const store = await openStore(gcs.uriFor('coll'), { env: gcs.env });
 *   gcs.inject(503, 'reset');  ...  await gcs.stop();
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32c } from '../../src/util/crc32c';
import { FaultSchedule, writeFault, type Fault, type FaultRule } from '../helpers/fault-proxy';

/** Extends a CRC32C (the project's slicing-by-8 implementation; the client checks it against its own). */
export function crc32cUpdate(crc: number, buf: Buffer): number {
  return crc32c(buf, crc);
}

interface StoredObject {
  bucket: string;
  name: string;
  size: number;
  md5: string;
  crc32c: string;
  generation: number;
  file: string;
  updated: string;
}

interface Session {
  bucket: string;
  name: string;
  file: string;
  received: number;
  done?: StoredObject;
}

export interface GcsEmulator {
  /** http://127.0.0.1:PORT — give it to the store as CRDB_CMEK_GCS_ENDPOINT (see env). */
  endpoint: string;
  bucket: string;
  /** Environment for openStore/GcsStore: { CRDB_CMEK_GCS_ENDPOINT: endpoint }. */
  env: NodeJS.ProcessEnv;
  /** gs://bucket/prefix?BEARER_TOKEN=... (params override; a bearer token by default, no network auth). */
  uriFor(prefix?: string, params?: Record<string, string>): string;
  /** Schedules faults for the next matching requests. */
  inject(...items: (Fault | FaultRule)[]): void;
  /** Schedules faults for the next requests that match. */
  injectWhen(match: (req: http.IncomingMessage) => boolean, ...faults: Fault[]): void;
  pending(): number;
  /** Every request seen, with its Authorization header and query. */
  requests: { method: string; url: string; authorization?: string }[];
  /** Object names in a bucket (for assertions). */
  objects(bucket?: string): string[];
  /** Puts an object directly (test setup, no HTTP). */
  put(name: string, data: Buffer, bucket?: string): void;
  stop(): Promise<void>;
}

function md5b64(buf: Buffer): string {
  return crypto.createHash('md5').update(buf).digest('base64');
}

function crcB64(crc: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc >>> 0);
  return b.toString('base64');
}

export async function startGcsEmulator(opts: { bucket?: string } = {}): Promise<GcsEmulator> {
  const bucket = opts.bucket ?? 'test-bucket';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-gcs-'));
  const objects = new Map<string, StoredObject>(); // key: bucket/name
  const sessions = new Map<string, Session>();
  const buckets = new Set([bucket]);
  const schedule = new FaultSchedule();
  const stalled = new Set<http.ServerResponse>();
  const requests: GcsEmulator['requests'] = [];
  let generation = 1;
  let endpoint = '';

  const meta = (o: StoredObject) => ({
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${endpoint}/storage/v1/b/${o.bucket}/o/${encodeURIComponent(o.name)}`,
    name: o.name,
    bucket: o.bucket,
    generation: String(o.generation),
    metageneration: '1',
    contentType: 'application/octet-stream',
    storageClass: 'STANDARD',
    size: String(o.size),
    md5Hash: o.md5,
    crc32c: o.crc32c,
    etag: `e${o.generation}`,
    timeCreated: o.updated,
    updated: o.updated,
  });

  const sendJson = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const s = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(s), ...headers });
    res.end(s);
  };
  const sendError = (res: http.ServerResponse, status: number, reason: string, message: string) =>
    sendJson(res, status, { error: { code: status, message, errors: [{ domain: 'global', reason, message }] } });

  /** Hashes a finished file and records it as the object's new generation. */
  const finalize = async (b: string, name: string, file: string): Promise<StoredObject> => {
    const md5 = crypto.createHash('md5');
    let crc = 0;
    let size = 0;
    for await (const c of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
      const chunk = c as Buffer;
      md5.update(chunk);
      crc = crc32cUpdate(crc, chunk);
      size += chunk.length;
    }
    const target = path.join(dir, `obj-${crypto.randomBytes(8).toString('hex')}`);
    fs.renameSync(file, target);
    const prev = objects.get(`${b}/${name}`);
    if (prev) fs.rmSync(prev.file, { force: true });
    const o: StoredObject = { bucket: b, name, size, md5: md5.digest('base64'), crc32c: crcB64(crc), generation: generation++, file: target, updated: new Date().toISOString() };
    objects.set(`${b}/${name}`, o);
    return o;
  };

  const readBody = (req: http.IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => resolve(Buffer.concat(parts)));
      req.on('error', reject);
    });

  /** Streams the request body into file at offset; resolves with the bytes written. */
  const bodyToFile = (req: http.IncomingMessage, file: string, offset: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const fd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w');
      fs.ftruncateSync(fd, offset);
      const ws = fs.createWriteStream('', { fd, start: offset });
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.pipe(ws);
      ws.on('finish', () => resolve(n));
      ws.on('error', reject);
      req.on('error', (e) => {
        ws.destroy();
        reject(e);
      });
      req.on('aborted', () => {
        ws.destroy();
        reject(new Error('aborted'));
      });
    });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, fault: Fault | undefined) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const p = u.pathname;
    const q = u.searchParams;
    let m: RegExpExecArray | null;

    // Resumable session PUT (chunk or status query).
    if (req.method === 'PUT' && /^\/upload\/storage\/v1\/b\/[^/]+\/o$/.test(p) && q.get('upload_id')) {
      const s = sessions.get(q.get('upload_id')!);
      if (!s) return sendError(res, 404, 'notFound', 'No such upload session');
      const cr = String(req.headers['content-range'] ?? '');
      const status = () => {
        if (s.done) return sendJson(res, 200, meta(s.done));
        res.writeHead(308, s.received > 0 ? { range: `bytes=0-${s.received - 1}`, 'content-length': '0' } : { 'content-length': '0' });
        res.end();
      };
      let mm = /^bytes \*\/(\*|\d+)$/.exec(cr);
      if (mm) {
        await readBody(req);
        if (mm[1] !== '*' && !s.done && Number(mm[1]) === s.received) {
          s.done = await finalize(s.bucket, s.name, s.file);
        }
        return status();
      }
      mm = /^bytes (\d+)-(\d+|\*)\/(\*|\d+)$/.exec(cr);
      if (!mm) return sendError(res, 400, 'invalid', 'bad Content-Range');
      if (s.done) {
        await readBody(req);
        return sendJson(res, 200, meta(s.done));
      }
      const start = Number(mm[1]);
      if (start > s.received) {
        await readBody(req);
        return sendError(res, 400, 'invalid', `chunk starts at ${start}, ${s.received} bytes received`);
      }
      const n = await bodyToFile(req, s.file, start);
      s.received = start + n;
      const total = mm[3] === '*' ? (mm[2] === '*' ? s.received : undefined) : Number(mm[3]);
      if (total !== undefined && s.received >= total) {
        s.done = await finalize(s.bucket, s.name, s.file);
      }
      return status();
    }

    // Uploads.
    if (req.method === 'POST' && (m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(p))) {
      const b = decodeURIComponent(m[1]);
      if (!buckets.has(b)) return sendError(res, 404, 'notFound', `The specified bucket does not exist: ${b}`);
      const type = q.get('uploadType');
      if (type === 'resumable') {
        const body = await readBody(req);
        const md = body.length ? (JSON.parse(body.toString()) as { name?: string }) : {};
        const name = q.get('name') ?? md.name;
        if (!name) return sendError(res, 400, 'required', 'object name required');
        const id = crypto.randomBytes(12).toString('hex');
        sessions.set(id, { bucket: b, name, file: path.join(dir, `up-${id}`), received: 0 });
        res.writeHead(200, { location: `${endpoint}/upload/storage/v1/b/${encodeURIComponent(b)}/o?uploadType=resumable&upload_id=${id}`, 'content-length': '0' });
        return res.end();
      }
      if (type === 'multipart') {
        const ct = String(req.headers['content-type'] ?? '');
        const bm = /boundary="?([^";]+)"?/.exec(ct);
        if (!bm) return sendError(res, 400, 'invalid', 'multipart boundary missing');
        const body = await readBody(req);
        const delim = Buffer.from(`--${bm[1]}`);
        const parts: Buffer[] = [];
        let i = body.indexOf(delim);
        while (i >= 0) {
          const nextI = body.indexOf(delim, i + delim.length);
          if (nextI < 0) break;
          parts.push(body.subarray(i + delim.length, nextI));
          i = nextI;
        }
        const parsed = parts.map((pt) => {
          const sep = pt.indexOf('\r\n\r\n');
          let content = pt.subarray(sep + 4);
          if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
          return content;
        });
        if (parsed.length < 2) return sendError(res, 400, 'invalid', 'multipart body needs metadata and media');
        const md = JSON.parse(parsed[0].toString()) as { name?: string };
        const name = q.get('name') ?? md.name;
        if (!name) return sendError(res, 400, 'required', 'object name required');
        const tmp = path.join(dir, `mp-${crypto.randomBytes(8).toString('hex')}`);
        fs.writeFileSync(tmp, parsed[1]);
        return sendJson(res, 200, meta(await finalize(b, name, tmp)));
      }
      return sendError(res, 400, 'invalid', `unsupported uploadType ${type}`);
    }

    // List.
    if (req.method === 'GET' && (m = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(p))) {
      const b = decodeURIComponent(m[1]);
      if (!buckets.has(b)) return sendError(res, 404, 'notFound', `The specified bucket does not exist: ${b}`);
      const prefix = q.get('prefix') ?? '';
      const max = Math.min(1000, Number(q.get('maxResults') ?? 1000) || 1000);
      const after = q.get('pageToken') ? Buffer.from(q.get('pageToken')!, 'base64').toString('utf8') : undefined;
      const names = [...objects.values()]
        .filter((o) => o.bucket === b && o.name.startsWith(prefix) && (after === undefined || o.name > after))
        .map((o) => o.name)
        .sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      const page = names.slice(0, max);
      const body: Record<string, unknown> = { kind: 'storage#objects', items: page.map((n) => meta(objects.get(`${b}/${n}`)!)) };
      if (names.length > max) body.nextPageToken = Buffer.from(page[page.length - 1]).toString('base64');
      return sendJson(res, 200, body);
    }

    // Object metadata / media / delete.
    if ((m = /^\/(?:download\/)?storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(p))) {
      const b = decodeURIComponent(m[1]);
      const name = decodeURIComponent(m[2]);
      const o = objects.get(`${b}/${name}`);
      if (req.method === 'DELETE') {
        if (!o) return sendError(res, 404, 'notFound', `No such object: ${b}/${name}`);
        objects.delete(`${b}/${name}`);
        fs.rmSync(o.file, { force: true });
        res.writeHead(204);
        return res.end();
      }
      if (req.method !== 'GET') return sendError(res, 405, 'invalid', 'method not allowed');
      if (!o) return sendError(res, 404, 'notFound', `No such object: ${b}/${name}`);
      if (q.get('alt') !== 'media') return sendJson(res, 200, meta(o));
      const headers: Record<string, string> = {
        'content-type': 'application/octet-stream',
        'x-goog-hash': `crc32c=${o.crc32c},md5=${o.md5}`,
        'x-goog-generation': String(o.generation),
        'x-goog-metageneration': '1',
        'x-goog-stored-content-encoding': 'identity',
        'x-goog-stored-content-length': String(o.size),
        'accept-ranges': 'bytes',
        etag: `e${o.generation}`,
      };
      let start = 0;
      let end = o.size - 1;
      let status = 200;
      const range = req.headers.range;
      if (range) {
        const rm = /^bytes=(\d*)-(\d*)$/.exec(range);
        if (!rm) return sendError(res, 400, 'invalid', 'bad Range');
        if (rm[1] === '') {
          start = Math.max(0, o.size - Number(rm[2]));
        } else {
          start = Number(rm[1]);
          if (rm[2] !== '') end = Math.min(end, Number(rm[2]));
        }
        if (start >= o.size) {
          res.writeHead(416, { 'content-range': `bytes */${o.size}`, 'content-type': 'application/json' });
          return res.end(JSON.stringify({ error: { code: 416, message: 'Requested range not satisfiable', errors: [{ reason: 'requestedRangeNotSatisfiable' }] } }));
        }
        status = 206;
        headers['content-range'] = `bytes ${start}-${end}/${o.size}`;
      }
      const len = Math.max(0, end - start + 1);
      headers['content-length'] = String(len);
      res.writeHead(status, headers);
      if (len === 0) return res.end();
      const rs = fs.createReadStream(o.file, { start, end });
      if (fault === 'truncate') {
        let sent = 0;
        const cut = Math.max(1, Math.floor(len / 2));
        rs.on('data', (c) => {
          const chunk = c as Buffer;
          if (sent >= cut) return;
          const part = chunk.subarray(0, cut - sent);
          sent += part.length;
          res.write(part);
          if (sent >= cut) {
            rs.destroy();
            setImmediate(() => res.socket?.destroy());
          }
        });
        return;
      }
      rs.pipe(res);
      return;
    }
    return sendError(res, 404, 'notFound', `no route for ${req.method} ${p}`);
  };

  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    const fault = schedule.next(req);
    if (fault !== undefined && fault !== 'truncate' && writeFault(req, res, fault, 'gcs', stalled)) return;
    handle(req, res, fault).catch((e) => {
      if (!res.headersSent) sendError(res, 500, 'backendError', String((e as Error).message));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    bucket,
    env: { CRDB_CMEK_GCS_ENDPOINT: endpoint },
    uriFor(prefix = '', params = { BEARER_TOKEN: 'emulator-token' }) {
      const q = new URLSearchParams(params).toString();
      return `gs://${bucket}/${prefix.replace(/^\/+/, '')}${q ? `?${q}` : ''}`;
    },
    inject: (...items) => schedule.inject(...items),
    injectWhen: (match, ...faults) => schedule.injectWhen(match, ...faults),
    pending: () => schedule.pending(),
    requests,
    objects: (b = bucket) =>
      [...objects.values()]
        .filter((o) => o.bucket === b)
        .map((o) => o.name)
        .sort(),
    put(name, data, b = bucket) {
      const tmp = path.join(dir, `put-${crypto.randomBytes(8).toString('hex')}`);
      fs.writeFileSync(tmp, data);
      const target = path.join(dir, `obj-${crypto.randomBytes(8).toString('hex')}`);
      fs.renameSync(tmp, target);
      objects.set(`${b}/${name}`, {
        bucket: b,
        name,
        size: data.length,
        md5: md5b64(data),
        crc32c: crcB64(crc32cUpdate(0, data)),
        generation: generation++,
        file: target,
        updated: new Date().toISOString(),
      });
    },
    async stop() {
      for (const r of stalled) r.socket?.destroy();
      stalled.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
