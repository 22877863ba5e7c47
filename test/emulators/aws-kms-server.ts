/**
 * An in-process AWS KMS emulator speaking the real wire protocol, for tests driven through
 * @aws-sdk/client-kms: `POST /` with `Content-Type: application/x-amz-json-1.1` and
 * `X-Amz-Target: TrentService.<Op>` (Encrypt, Decrypt, GenerateDataKey, DescribeKey), a SigV4
 * `Authorization` header required (its access key id is recorded; the signature is not verified),
 * base64 blobs, and errors as `x-amzn-errortype` + `{"__type", "message"}` bodies. EncryptionContext is
 * bound to the ciphertext (a different context fails with InvalidCiphertextException, as AWS does).
 * It also answers STS AssumeRole (the query protocol, XML) so ASSUME_ROLE chains can be exercised.
 *
 * Ciphertext blobs: "EKMS1" | u16 len(keyId) | keyId | iv(12) | AES-256-GCM(kek, iv, pt; aad = context) | tag.
 */
import * as http from 'node:http';
import * as crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface AwsKmsCall {
  op: string;
  keyId?: string;
  accessKeyId?: string;
  encryptionContext?: Record<string, string>;
  status: number;
  error?: string;
}

interface KeyState {
  kek: Buffer;
  enabled: boolean;
  denied: boolean;
  pendingDeletion: boolean;
}

export interface AwsKmsEmulator {
  endpoint: string;
  stop(): Promise<void>;
  createKey(id: string, kekHex?: string): void;
  disableKey(id: string): void;
  enableKey(id: string): void;
  denyAccess(id: string): void;
  allowAccess(id: string): void;
  /** Schedules deletion: calls then fail with KMSInvalidStateException (AWS's pending-deletion state). */
  deleteKey(id: string): void;
  /** Forgets the key entirely: calls then fail with NotFoundException. */
  purgeKey(id: string): void;
  /** The next n KMS calls answer 400 ThrottlingException. */
  throttleNext(n: number): void;
  /** Roles that STS AssumeRole accepts (any role when empty). */
  allowRoles: Set<string>;
  /** STS AssumeRole requests seen: the role, external id and the caller's access key id. */
  assumed: { role: string; externalId?: string; accessKeyId?: string; issued: string }[];
  calls: AwsKmsCall[];
}

export async function start(opts: { keys?: Record<string, string> } = {}): Promise<AwsKmsEmulator> {
  const keys = new Map<string, KeyState>();
  const calls: AwsKmsCall[] = [];
  const assumed: AwsKmsEmulator['assumed'] = [];
  const allowRoles = new Set<string>();
  let throttle = 0;

  const createKey = (id: string, kekHex?: string) =>
    keys.set(id, { kek: kekHex ? Buffer.from(kekHex, 'hex') : crypto.randomBytes(32), enabled: true, denied: false, pendingDeletion: false });
  for (const [id, hex] of Object.entries(opts.keys ?? {})) createKey(id, hex);

  const contextAad = (ctx?: Record<string, string>) =>
    Buffer.from(JSON.stringify(Object.keys(ctx ?? {}).sort().map((k) => [k, ctx![k]])));

  const seal = (keyId: string, kek: Buffer, pt: Buffer, ctx?: Record<string, string>) => {
    const iv = crypto.randomBytes(12);
    const c = crypto.createCipheriv('aes-256-gcm', kek, iv);
    c.setAAD(contextAad(ctx));
    const id = Buffer.from(keyId);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(id.length);
    return Buffer.concat([Buffer.from('EKMS1'), len, id, iv, c.update(pt), c.final(), c.getAuthTag()]);
  };

  class KmsFault extends Error {
    constructor(readonly type: string, message: string) {
      super(message);
    }
  }

  const usable = (keyId: string | undefined, action: string, akid?: string): KeyState => {
    if (!keyId) throw new KmsFault('ValidationException', '1 validation error detected: Value null at \'keyId\' failed to satisfy constraint');
    const k = keys.get(keyId);
    if (!k) throw new KmsFault('NotFoundException', `Key '${keyId}' does not exist`);
    if (k.denied)
      throw new KmsFault(
        'AccessDeniedException',
        `User: arn:aws:iam::111122223333:user/${akid ?? 'anonymous'} is not authorized to perform: kms:${action} on resource: ${keyId} because no identity-based policy allows the kms:${action} action`,
      );
    if (k.pendingDeletion) throw new KmsFault('KMSInvalidStateException', `${keyId} is pending deletion.`);
    if (!k.enabled) throw new KmsFault('DisabledException', `${keyId} is disabled.`);
    return k;
  };

  const handleKms = (op: string, input: Record<string, unknown>, akid?: string): { body: unknown; keyId?: string } => {
    const ctx = input.EncryptionContext as Record<string, string> | undefined;
    switch (op) {
      case 'Encrypt':
      case 'GenerateDataKey': {
        const keyId = input.KeyId as string;
        const k = usable(keyId, op, akid);
        const pt = op === 'Encrypt' ? Buffer.from(String(input.Plaintext ?? ''), 'base64') : crypto.randomBytes(Number(input.NumberOfBytes ?? 32));
        if (op === 'Encrypt' && (pt.length < 1 || pt.length > 4096))
          throw new KmsFault('ValidationException', 'Plaintext must be between 1 and 4096 bytes');
        const body: Record<string, string> = { KeyId: keyId, CiphertextBlob: seal(keyId, k.kek, pt, ctx).toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
        if (op === 'GenerateDataKey') body.Plaintext = pt.toString('base64');
        return { body, keyId };
      }
      case 'Decrypt': {
        const blob = Buffer.from(String(input.CiphertextBlob ?? ''), 'base64');
        if (blob.length < 7 || blob.subarray(0, 5).toString() !== 'EKMS1') throw new KmsFault('InvalidCiphertextException', '');
        const n = blob.readUInt16BE(5);
        const blobKey = blob.subarray(7, 7 + n).toString();
        if (input.KeyId && input.KeyId !== blobKey)
          throw new KmsFault('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
        const k = usable(blobKey, 'Decrypt', akid);
        const iv = blob.subarray(7 + n, 19 + n);
        const body = blob.subarray(19 + n);
        try {
          const d = crypto.createDecipheriv('aes-256-gcm', k.kek, iv);
          d.setAAD(contextAad(ctx));
          d.setAuthTag(body.subarray(body.length - 16));
          const pt = Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
          return { body: { KeyId: blobKey, Plaintext: pt.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }, keyId: blobKey };
        } catch {
          throw new KmsFault('InvalidCiphertextException', '');
        }
      }
      case 'DescribeKey': {
        const keyId = input.KeyId as string;
        const k = keys.get(keyId);
        if (!k) throw new KmsFault('NotFoundException', `Key '${keyId}' does not exist`);
        if (k.denied) usable(keyId, 'DescribeKey', akid);
        return {
          keyId,
          body: {
            KeyMetadata: {
              KeyId: keyId,
              Arn: keyId.startsWith('arn:') ? keyId : `arn:aws:kms:us-east-1:111122223333:key/${keyId}`,
              Enabled: k.enabled && !k.pendingDeletion,
              KeyState: k.pendingDeletion ? 'PendingDeletion' : k.enabled ? 'Enabled' : 'Disabled',
              KeyUsage: 'ENCRYPT_DECRYPT',
              KeySpec: 'SYMMETRIC_DEFAULT',
            },
          },
        };
      }
      default:
        throw new KmsFault('UnknownOperationException', `operation ${op} is not supported by this emulator`);
    }
  };

  const handleSts = (form: URLSearchParams, akid: string | undefined, res: http.ServerResponse) => {
    const action = form.get('Action');
    const xmlErr = (status: number, code: string, msg: string) => {
      res.writeHead(status, { 'content-type': 'text/xml' });
      res.end(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${msg}</Message></Error><RequestId>r</RequestId></ErrorResponse>`);
    };
    if (action !== 'AssumeRole') return xmlErr(400, 'InvalidAction', `unsupported STS action ${action}`);
    const role = form.get('RoleArn') ?? '';
    const externalId = form.get('ExternalId') ?? undefined;
    if (allowRoles.size > 0 && !allowRoles.has(role)) return xmlErr(403, 'AccessDenied', `User: ${akid} is not authorized to perform: sts:AssumeRole on resource: ${role}`);
    const issued = `ASIA${crypto.randomBytes(8).toString('hex').toUpperCase()}`;
    assumed.push({ role, externalId, accessKeyId: akid, issued });
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(
      `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>` +
        `<AccessKeyId>${issued}</AccessKeyId><SecretAccessKey>${crypto.randomBytes(20).toString('base64')}</SecretAccessKey>` +
        `<SessionToken>${crypto.randomBytes(24).toString('hex')}</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>` +
        `<AssumedRoleUser><Arn>${role}/crdb-cmek</Arn><AssumedRoleId>AROA:crdb-cmek</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>` +
        `<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`,
    );
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const auth = String(req.headers.authorization ?? '');
      const akid = /Credential=([^/]+)\//.exec(auth)?.[1];
      const target = String(req.headers['x-amz-target'] ?? '');
      const fail = (status: number, type: string, message: string, call: AwsKmsCall) => {
        call.status = status;
        call.error = type;
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type, 'x-amzn-requestid': crypto.randomUUID() });
        res.end(JSON.stringify({ __type: type, message }));
      };
      if (!target && String(req.headers['content-type'] ?? '').includes('x-www-form-urlencoded')) {
        if (!auth.startsWith('AWS4-HMAC-SHA256 ')) {
          res.writeHead(403, { 'content-type': 'text/xml' });
          return res.end('<ErrorResponse><Error><Code>MissingAuthenticationToken</Code><Message>unsigned</Message></Error></ErrorResponse>');
        }
        return handleSts(new URLSearchParams(raw), akid, res);
      }
      const op = target.replace(/^TrentService\./, '');
      let input: Record<string, unknown> = {};
      const call: AwsKmsCall = { op, accessKeyId: akid, status: 200 };
      calls.push(call);
      try {
        input = JSON.parse(raw || '{}');
      } catch {
        return fail(400, 'SerializationException', 'body is not JSON', call);
      }
      call.keyId = input.KeyId as string | undefined;
      call.encryptionContext = input.EncryptionContext as Record<string, string> | undefined;
      if (!auth.startsWith('AWS4-HMAC-SHA256 ') || !akid) return fail(400, 'MissingAuthenticationTokenException', 'Missing Authentication Token', call);
      if (!target.startsWith('TrentService.')) return fail(400, 'UnknownOperationException', `bad X-Amz-Target ${target}`, call);
      if (throttle > 0) {
        throttle--;
        return fail(400, 'ThrottlingException', 'Rate exceeded', call);
      }
      try {
        const out = handleKms(op, input, akid);
        if (out.keyId) call.keyId = out.keyId;
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': crypto.randomUUID() });
        res.end(JSON.stringify(out.body));
      } catch (e) {
        if (e instanceof KmsFault) return fail(400, e.type, e.message, call);
        return fail(500, 'KMSInternalException', String((e as Error).message), call);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const get = (id: string) => {
    const k = keys.get(id);
    if (!k) throw new Error(`emulator has no key ${id}`);
    return k;
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
    createKey,
    disableKey: (id) => void (get(id).enabled = false),
    enableKey: (id) => void (get(id).enabled = true),
    denyAccess: (id) => void (get(id).denied = true),
    allowAccess: (id) => void (get(id).denied = false),
    deleteKey: (id) => void (get(id).pendingDeletion = true),
    purgeKey: (id) => void keys.delete(id),
    throttleNext: (n) => void (throttle = n),
    allowRoles,
    assumed,
    calls,
  };
}
