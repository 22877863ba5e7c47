/**
 * An in-process Google Cloud KMS emulator (REST, v1), for tests driven through @google-cloud/kms with
 * `fallback: 'rest'`: `POST /v1/{cryptoKey name}:encrypt` and `:decrypt`, base64 bytes, int64 CRC32C
 * fields as JSON strings, request checksums verified (a mismatch is INVALID_ARGUMENT, as Cloud KMS
 * answers), `verifiedPlaintextCrc32c` / `ciphertextCrc32c` / `plaintextCrc32c` in responses, and
 * errors as google.rpc.Status JSON: {"error": {"code", "message", "status"}} with the HTTP status of
 * the code (FAILED_PRECONDITION for a disabled key, PERMISSION_DENIED, NOT_FOUND, ...). Keys have
 * versions: rotateKey() adds a new primary, older versions still decrypt. corruptNext() damages a
 * response so the client's integrity checks can be proven.
 *
 * Ciphertext: "GKMS" | u16 version | iv(12) | AES-256-GCM(version key, iv, pt; aad = AAD) | tag.
 */
import * as http from 'node:http';
import * as crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { crc32c } from '../../src/util/crc32c';

export interface GcpKmsCall {
  op: string;
  name: string;
  authorization?: string;
  requestCrc?: boolean;
  status: number;
  error?: string;
}

export type Corruption = 'ciphertext' | 'ciphertextCrc32c' | 'verifiedPlaintextCrc32c' | 'plaintext' | 'plaintextCrc32c';

interface KeyState {
  versions: Buffer[]; // index = version - 1
  primary: number;
  enabled: boolean;
  denied: boolean;
  destroyed: boolean;
}

export interface GcpKmsEmulator {
  endpoint: string;
  stop(): Promise<void>;
  createKey(name: string): void;
  disableKey(name: string): void;
  enableKey(name: string): void;
  denyAccess(name: string): void;
  allowAccess(name: string): void;
  /** Destroys the key material: decrypt then fails FAILED_PRECONDITION (DESTROYED). */
  deleteKey(name: string): void;
  /** Adds a new primary version; returns its number. */
  rotateKey(name: string): number;
  /** The next response is damaged in the given way (once per call to corruptNext). */
  corruptNext(kind: Corruption): void;
  /** The next n calls answer 429 RESOURCE_EXHAUSTED. */
  throttleNext(n: number): void;
  /** When set, requests must carry `Authorization: Bearer <token>` (401 UNAUTHENTICATED otherwise). */
  requireBearer?: string;
  calls: GcpKmsCall[];
}

const HTTP_OF: Record<string, number> = {
  INVALID_ARGUMENT: 400, FAILED_PRECONDITION: 400, UNAUTHENTICATED: 401, PERMISSION_DENIED: 403, NOT_FOUND: 404,
  RESOURCE_EXHAUSTED: 429, INTERNAL: 500, UNAVAILABLE: 503,
};

class RpcFault extends Error {
  constructor(readonly status: string, message: string) {
    super(message);
  }
}

export async function start(): Promise<GcpKmsEmulator> {
  const keys = new Map<string, KeyState>();
  const calls: GcpKmsCall[] = [];
  const corruptions: Corruption[] = [];
  let throttle = 0;

  const get = (name: string) => {
    const k = keys.get(name);
    if (!k) throw new Error(`emulator has no key ${name}`);
    return k;
  };
  const usable = (name: string, permission: string) => {
    const k = keys.get(name);
    // Cloud KMS answers PERMISSION_DENIED "(or it may not exist)" to callers without access; with
    // access to the key ring, a missing key is NOT_FOUND.
    if (!k) throw new RpcFault('NOT_FOUND', `CryptoKey ${name} not found.`);
    if (k.denied) throw new RpcFault('PERMISSION_DENIED', `Permission '${permission}' denied on resource '${name}' (or it may not exist).`);
    return k;
  };
  const versionUsable = (name: string, k: KeyState, v: number) => {
    const vname = `${name}/cryptoKeyVersions/${v}`;
    if (k.destroyed) throw new RpcFault('FAILED_PRECONDITION', `${vname} is not enabled, current state is: DESTROYED.`);
    if (!k.enabled) throw new RpcFault('FAILED_PRECONDITION', `${vname} is not enabled, current state is: DISABLED.`);
  };
  const b64 = (s: unknown) => Buffer.from(typeof s === 'string' ? s : '', 'base64');
  const checkCrc = (data: Buffer, crc: unknown, field: string, dataField: string) => {
    if (crc === undefined || crc === null) return false;
    if (Number(crc) !== crc32c(data)) throw new RpcFault('INVALID_ARGUMENT', `The checksum in field ${field} did not match the data in field ${dataField}.`);
    return true;
  };

  const handle = (name: string, op: string, body: Record<string, unknown>, call: GcpKmsCall): Record<string, unknown> => {
    const aad = b64(body.additionalAuthenticatedData);
    const aadVerified = checkCrc(aad, body.additionalAuthenticatedDataCrc32c, 'additional_authenticated_data_crc32c', 'additional_authenticated_data');
    if (op === 'encrypt') {
      const k = usable(name, 'cloudkms.cryptoKeyVersions.useToEncrypt');
      versionUsable(name, k, k.primary);
      const pt = b64(body.plaintext);
      call.requestCrc = checkCrc(pt, body.plaintextCrc32c, 'plaintext_crc32c', 'plaintext');
      const iv = crypto.randomBytes(12);
      const c = crypto.createCipheriv('aes-256-gcm', k.versions[k.primary - 1], iv);
      c.setAAD(aad);
      const ver = Buffer.alloc(2);
      ver.writeUInt16BE(k.primary);
      const ct = Buffer.concat([Buffer.from('GKMS'), ver, iv, c.update(pt), c.final(), c.getAuthTag()]);
      return {
        name: `${name}/cryptoKeyVersions/${k.primary}`,
        ciphertext: ct.toString('base64'),
        ciphertextCrc32c: String(crc32c(ct)),
        verifiedPlaintextCrc32c: call.requestCrc,
        verifiedAdditionalAuthenticatedDataCrc32c: aadVerified,
        protectionLevel: 'SOFTWARE',
      };
    }
    if (op === 'decrypt') {
      const k = usable(name, 'cloudkms.cryptoKeyVersions.useToDecrypt');
      const ct = b64(body.ciphertext);
      call.requestCrc = checkCrc(ct, body.ciphertextCrc32c, 'ciphertext_crc32c', 'ciphertext');
      if (ct.length < 4 + 2 + 12 + 16 || ct.subarray(0, 4).toString() !== 'GKMS') throw new RpcFault('INVALID_ARGUMENT', 'Decryption failed: the ciphertext is invalid.');
      const v = ct.readUInt16BE(4);
      if (v < 1 || v > k.versions.length) throw new RpcFault('INVALID_ARGUMENT', 'Decryption failed: the ciphertext is invalid.');
      versionUsable(name, k, v);
      try {
        const d = crypto.createDecipheriv('aes-256-gcm', k.versions[v - 1], ct.subarray(6, 18));
        d.setAAD(aad);
        d.setAuthTag(ct.subarray(ct.length - 16));
        const pt = Buffer.concat([d.update(ct.subarray(18, ct.length - 16)), d.final()]);
        return { plaintext: pt.toString('base64'), plaintextCrc32c: String(crc32c(pt)), usedPrimary: v === k.primary, protectionLevel: 'SOFTWARE' };
      } catch {
        throw new RpcFault('INVALID_ARGUMENT', 'Decryption failed: the ciphertext is invalid.');
      }
    }
    throw new RpcFault('UNIMPLEMENTED', `method ${op} is not implemented by this emulator`);
  };

  const corrupt = (out: Record<string, unknown>) => {
    const kind = corruptions.shift();
    if (!kind) return;
    const flip = (s: string) => {
      const b = Buffer.from(s, 'base64');
      b[b.length - 1] ^= 0x01;
      return b.toString('base64');
    };
    if (kind === 'ciphertext' && typeof out.ciphertext === 'string') out.ciphertext = flip(out.ciphertext);
    if (kind === 'plaintext' && typeof out.plaintext === 'string') out.plaintext = flip(out.plaintext);
    if (kind === 'ciphertextCrc32c' && out.ciphertextCrc32c !== undefined) out.ciphertextCrc32c = String((Number(out.ciphertextCrc32c) + 1) >>> 0);
    if (kind === 'plaintextCrc32c' && out.plaintextCrc32c !== undefined) out.plaintextCrc32c = String((Number(out.plaintextCrc32c) + 1) >>> 0);
    if (kind === 'verifiedPlaintextCrc32c') out.verifiedPlaintextCrc32c = false;
  };

  const emu: GcpKmsEmulator = {
    endpoint: '',
    stop: async () => undefined,
    createKey: (name) => void keys.set(name, { versions: [crypto.randomBytes(32)], primary: 1, enabled: true, denied: false, destroyed: false }),
    disableKey: (name) => void (get(name).enabled = false),
    enableKey: (name) => void (get(name).enabled = true),
    denyAccess: (name) => void (get(name).denied = true),
    allowAccess: (name) => void (get(name).denied = false),
    deleteKey: (name) => void (get(name).destroyed = true),
    rotateKey: (name) => {
      const k = get(name);
      k.versions.push(crypto.randomBytes(32));
      k.primary = k.versions.length;
      return k.primary;
    },
    corruptNext: (kind) => void corruptions.push(kind),
    throttleNext: (n) => void (throttle = n),
    calls,
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const m = /^\/v1\/(.+):([a-zA-Z]+)$/.exec(decodeURIComponent(url.pathname));
      const call: GcpKmsCall = { op: m?.[2] ?? req.method ?? '', name: m?.[1] ?? url.pathname, authorization: req.headers.authorization, status: 200 };
      calls.push(call);
      const send = (status: number, body: unknown) => {
        call.status = status;
        res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
        res.end(JSON.stringify(body));
      };
      const fault = (f: RpcFault) => {
        call.error = f.status;
        send(HTTP_OF[f.status] ?? 500, { error: { code: HTTP_OF[f.status] ?? 500, message: f.message, status: f.status } });
      };
      try {
        if (req.method !== 'POST' || !m) throw new RpcFault('NOT_FOUND', `no route for ${req.method} ${url.pathname}`);
        if (emu.requireBearer !== undefined && req.headers.authorization !== `Bearer ${emu.requireBearer}`) {
          throw new RpcFault('UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token.');
        }
        if (throttle > 0) {
          throttle--;
          throw new RpcFault('RESOURCE_EXHAUSTED', "Quota exceeded for quota metric 'Cryptographic requests'.");
        }
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        } catch {
          throw new RpcFault('INVALID_ARGUMENT', 'Invalid JSON payload received.');
        }
        const out = handle(m[1], m[2], body, call);
        corrupt(out);
        send(200, out);
      } catch (e) {
        if (e instanceof RpcFault) return fault(e);
        fault(new RpcFault('INTERNAL', String((e as Error).message)));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  emu.endpoint = `http://127.0.0.1:${port}`;
  emu.stop = () =>
    new Promise<void>((r) => {
      server.closeAllConnections?.();
      server.close(() => r());
    });
  return emu;
}
