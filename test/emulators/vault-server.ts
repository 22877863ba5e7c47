/**
 * An in-process HashiCorp Vault emulator for the Transit secrets engine, for tests driven through
 * node-vault: `POST /v1/<mount>/encrypt/<key>` {plaintext: b64} -> {data: {ciphertext: "vault:vN:..",
 * key_version}}, `POST /v1/<mount>/decrypt/<key>` {ciphertext} -> {data: {plaintext}},
 * `POST /v1/<mount>/rewrap/<key>`, `POST /v1/<mount>/keys/<key>/rotate`, `GET /v1/<mount>/keys/<key>`,
 * `POST /v1/<mount>/keys/<key>/config` {min_decryption_version}. `X-Vault-Token` is required (403
 * "permission denied" otherwise) and `X-Vault-Namespace` must match the configured namespace (404 "no
 * handler for route" otherwise, as a wrong namespace has no such mount). Errors are {"errors": [...]}.
 * Optionally serves HTTPS with a given key and certificate (for CA-trust tests).
 *
 * Vault cannot disable a Transit key; disableKey/denyAccess model revoking the token's policy (403),
 * deleteKey removes the key (400 "encryption key not found").
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface VaultCall {
  op: string;
  key: string;
  token?: string;
  namespace?: string;
  status: number;
  error?: string;
}

interface TransitKey {
  versions: Buffer[];
  minDecryptionVersion: number;
  denied: boolean;
}

export interface VaultEmulator {
  endpoint: string;
  /** A token the emulator accepts. */
  token: string;
  namespace?: string;
  stop(): Promise<void>;
  /** id = "<mount>/<key>" */
  createKey(id: string): void;
  disableKey(id: string): void;
  enableKey(id: string): void;
  denyAccess(id: string): void;
  allowAccess(id: string): void;
  deleteKey(id: string): void;
  rotateKey(id: string): number;
  latestVersion(id: string): number;
  setMinDecryptionVersion(id: string, v: number): void;
  /** The next n calls answer 429. */
  throttleNext(n: number): void;
  calls: VaultCall[];
}

export async function start(opts: { token?: string; namespace?: string; tls?: { key: string | Buffer; cert: string | Buffer } } = {}): Promise<VaultEmulator> {
  const token = opts.token ?? `hvs.${crypto.randomBytes(12).toString('base64url')}`;
  const keys = new Map<string, TransitKey>();
  const calls: VaultCall[] = [];
  let throttle = 0;

  class VaultFault extends Error {
    constructor(readonly status: number, message: string) {
      super(message);
    }
  }
  const get = (id: string) => {
    const k = keys.get(id);
    if (!k) throw new Error(`emulator has no key ${id}`);
    return k;
  };
  const usable = (id: string) => {
    const k = keys.get(id);
    if (k?.denied) throw new VaultFault(403, '1 error occurred:\n\t* permission denied\n\n');
    if (!k) throw new VaultFault(400, 'encryption key not found');
    return k;
  };
  const seal = (k: TransitKey, v: number, pt: Buffer) => {
    const iv = crypto.randomBytes(12);
    const c = crypto.createCipheriv('aes-256-gcm', k.versions[v - 1], iv);
    const body = Buffer.concat([iv, c.update(pt), c.final(), c.getAuthTag()]);
    return `vault:v${v}:${body.toString('base64')}`;
  };
  const open = (k: TransitKey, ct: unknown): { pt: Buffer; v: number } => {
    const m = /^vault:v(\d+):([A-Za-z0-9+/=]+)$/.exec(typeof ct === 'string' ? ct : '');
    if (!m) throw new VaultFault(400, 'invalid ciphertext: no prefix');
    const v = Number(m[1]);
    if (v < k.minDecryptionVersion) throw new VaultFault(400, 'ciphertext or signature version is disallowed by policy (too old)');
    if (v > k.versions.length) throw new VaultFault(400, 'invalid ciphertext: version is too new');
    const body = Buffer.from(m[2], 'base64');
    try {
      const d = crypto.createDecipheriv('aes-256-gcm', k.versions[v - 1], body.subarray(0, 12));
      d.setAuthTag(body.subarray(body.length - 16));
      return { pt: Buffer.concat([d.update(body.subarray(12, body.length - 16)), d.final()]), v };
    } catch {
      throw new VaultFault(400, 'cipher: message authentication failed');
    }
  };

  const route = (method: string, path: string, body: Record<string, unknown>, call: VaultCall): { status: number; body?: unknown } => {
    let m = /^\/v1\/(.+)\/(encrypt|decrypt|rewrap)\/([^/]+)$/.exec(path);
    if (m && method === 'POST') {
      const id = `${m[1]}/${m[3]}`;
      call.op = m[2];
      call.key = id;
      const k = usable(id);
      const latest = k.versions.length;
      if (m[2] === 'encrypt') {
        if (typeof body.plaintext !== 'string') throw new VaultFault(400, 'missing plaintext to encrypt');
        return { status: 200, body: { data: { ciphertext: seal(k, latest, Buffer.from(body.plaintext, 'base64')), key_version: latest } } };
      }
      const { pt } = open(k, body.ciphertext);
      if (m[2] === 'decrypt') return { status: 200, body: { data: { plaintext: pt.toString('base64') } } };
      return { status: 200, body: { data: { ciphertext: seal(k, latest, pt), key_version: latest } } };
    }
    m = /^\/v1\/(.+)\/keys\/([^/]+)(?:\/(rotate|config))?$/.exec(path);
    if (m) {
      const id = `${m[1]}/${m[2]}`;
      call.key = id;
      call.op = m[3] ?? (method === 'GET' ? 'read-key' : 'create-key');
      if (m[3] === 'rotate' && method === 'POST') {
        const k = usable(id);
        k.versions.push(crypto.randomBytes(32));
        return { status: 204 };
      }
      if (m[3] === 'config' && method === 'POST') {
        const k = usable(id);
        if (body.min_decryption_version !== undefined) k.minDecryptionVersion = Number(body.min_decryption_version);
        return { status: 204 };
      }
      if (!m[3] && method === 'GET') {
        const k = usable(id);
        const versions: Record<string, number> = {};
        k.versions.forEach((_, i) => (versions[String(i + 1)] = 1700000000 + i));
        return { status: 200, body: { data: { name: m[2], type: 'aes256-gcm96', latest_version: k.versions.length, min_decryption_version: k.minDecryptionVersion, keys: versions } } };
      }
      if (!m[3] && method === 'POST') {
        if (!keys.has(id)) keys.set(id, { versions: [crypto.randomBytes(32)], minDecryptionVersion: 1, denied: false });
        return { status: 204 };
      }
    }
    throw new VaultFault(404, `1 error occurred:\n\t* unsupported path\n\n`);
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const call: VaultCall = {
        op: '?',
        key: '',
        token: req.headers['x-vault-token'] as string | undefined,
        namespace: req.headers['x-vault-namespace'] as string | undefined,
        status: 200,
      };
      calls.push(call);
      const send = (status: number, body?: unknown) => {
        call.status = status;
        if (body === undefined) {
          res.writeHead(status);
          return res.end();
        }
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      try {
        if (call.token !== token) throw new VaultFault(403, 'permission denied');
        if ((opts.namespace ?? '') !== (call.namespace ?? '')) throw new VaultFault(404, `no handler for route "${path.replace(/^\/v1\//, '')}". route entry not found.`);
        if (throttle > 0) {
          throttle--;
          throw new VaultFault(429, 'request path: rate limit quota exceeded');
        }
        let body: Record<string, unknown> = {};
        if (chunks.length) {
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            throw new VaultFault(400, 'failed to parse JSON input');
          }
        }
        const out = route(req.method ?? 'GET', path, body, call);
        send(out.status, out.body);
      } catch (e) {
        if (e instanceof VaultFault) {
          call.error = e.message;
          return send(e.status, { errors: [e.message] });
        }
        send(500, { errors: [String((e as Error).message)] });
      }
    });
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const deny = (id: string, v: boolean) => void (get(id).denied = v);
  return {
    endpoint: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    token,
    namespace: opts.namespace,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
    createKey: (id) => void keys.set(id, { versions: [crypto.randomBytes(32)], minDecryptionVersion: 1, denied: false }),
    disableKey: (id) => deny(id, true),
    enableKey: (id) => deny(id, false),
    denyAccess: (id) => deny(id, true),
    allowAccess: (id) => deny(id, false),
    deleteKey: (id) => void keys.delete(id),
    rotateKey: (id) => {
      const k = get(id);
      k.versions.push(crypto.randomBytes(32));
      return k.versions.length;
    },
    latestVersion: (id) => get(id).versions.length,
    setMinDecryptionVersion: (id, v) => void (get(id).minDecryptionVersion = v),
    throttleNext: (n) => void (throttle = n),
    calls,
  };
}
