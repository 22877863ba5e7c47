import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { VaultTransitProvider, vaultCiphertextVersion } from '../../src/kms/vault-transit';
import { openKms } from '../../src/kms';
import { checkKey } from '../../src/kms/check';
import { KeyError, UsageError } from '../../src/errors';
import { start, type VaultEmulator } from '../emulators/vault-server';
import { expectKeyError } from '../helpers/refusal';

let vault: VaultEmulator;
let env: NodeJS.ProcessEnv;
const KEY = 'transit/backup-cmek';

const open = (u = `vault-transit:///${KEY}`, o: { env?: NodeJS.ProcessEnv; retryBaseMs?: number; maxAttempts?: number } = {}) =>
  new VaultTransitProvider(u, { env, ...o });

const refusal = (p: Promise<unknown>) => expectKeyError(p, [vault.token]);

beforeAll(async () => {
  vault = await start();
  vault.createKey(KEY);
  env = { VAULT_ADDR: vault.endpoint, VAULT_TOKEN: vault.token };
});
afterAll(async () => {
  await vault.stop();
});

describe('Vault Transit provider against the in-repo emulator', () => {
  test('key ID is <mount>/<key>; nested mounts; openKms dispatch', () => {
    expect(open().keyId).toBe(KEY);
    const nested = open('vault-transit:///team/transit/k1');
    expect([nested.mount, nested.keyName, nested.keyId]).toEqual(['team/transit', 'k1', 'team/transit/k1']);
    expect(openKms(`vault-transit:///${KEY}`, { env }).provider).toBe('vault-transit');
  });

  test('round trip; ciphertext stored as the UTF-8 bytes of vault:v1:...; token header sent', async () => {
    const p = open();
    const secret = crypto.randomBytes(32);
    const ct = await p.encrypt(secret);
    expect(ct.toString('utf8')).toMatch(/^vault:v1:/);
    expect(vaultCiphertextVersion(ct)).toBe(1);
    expect(p.lastKeyVersion).toBe(1);
    expect((await p.decrypt(ct)).equals(secret)).toBe(true);
    expect(vault.calls.slice(-2).map((c) => [c.op, c.key, c.token === vault.token])).toEqual([
      ['encrypt', KEY, true],
      ['decrypt', KEY, true],
    ]);
  });

  test('rotation: old ciphertexts decrypt, new ones use v2, rewrap upgrades without the plaintext', async () => {
    const id = 'transit/rotating';
    vault.createKey(id);
    const p = open(`vault-transit:///${id}`);
    const v1 = await p.encrypt(Buffer.from('old'));
    expect(vault.rotateKey(id)).toBe(2);
    const v2 = await p.encrypt(Buffer.from('new'));
    expect(v2.toString()).toMatch(/^vault:v2:/);
    expect(p.lastKeyVersion).toBe(2);
    expect((await p.decrypt(v1)).toString()).toBe('old');
    expect((await p.decrypt(v2)).toString()).toBe('new');
    const upgraded = await p.rewrap(v1);
    expect(vaultCiphertextVersion(upgraded)).toBe(2);
    expect((await p.decrypt(upgraded)).toString()).toBe('old');
    vault.setMinDecryptionVersion(id, 2);
    expect((await refusal(p.decrypt(v1))).message).toContain('disallowed by policy');
  });

  test('aad: SHA-256(aad) bound into the plaintext and checked', async () => {
    const p = open();
    const ct = await p.encrypt(Buffer.from('store key'), Buffer.from('level=store'));
    expect((await p.decrypt(ct, Buffer.from('level=store'))).toString()).toBe('store key');
    expect((await refusal(p.decrypt(ct, Buffer.from('level=data')))).message).toContain('AdditionalDataMismatch');
  });

  test('revoked policy -> 403 permission denied; deleted key -> not found; restored access works again', async () => {
    const id = 'transit/revocable';
    vault.createKey(id);
    const p = open(`vault-transit:///${id}`);
    const ct = await p.encrypt(Buffer.from('data key'));
    vault.disableKey(id);
    const e = await refusal(p.decrypt(ct));
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain('HTTP 403');
    expect(e.message).toContain('permission denied');
    expect(e.message).toContain(id);
    vault.enableKey(id);
    expect((await p.decrypt(ct)).toString()).toBe('data key');
    vault.deleteKey(id);
    expect((await refusal(p.decrypt(ct))).message).toContain('encryption key not found');
  });

  test('bad token -> permission denied, and the token is never printed', async () => {
    const e = await refusal(open(`vault-transit:///${KEY}?VAULT_TOKEN=hvs.not-the-right-one`).encrypt(Buffer.from('x')));
    expect(e.message).toContain('permission denied');
    expect(e.message).not.toContain('hvs.not-the-right-one');
    expect(e.message).toContain('VAULT_TOKEN=redacted');
  });

  test('namespace from the URI or the environment is sent as X-Vault-Namespace', async () => {
    const ns = await start({ namespace: 'admin/team-a' });
    try {
      ns.createKey(KEY);
      const base = { VAULT_ADDR: ns.endpoint, VAULT_TOKEN: ns.token };
      const viaEnv = new VaultTransitProvider(`vault-transit:///${KEY}`, { env: { ...base, VAULT_NAMESPACE: 'admin/team-a' } });
      expect((await viaEnv.decrypt(await viaEnv.encrypt(Buffer.from('n')))).toString()).toBe('n');
      const viaUri = new VaultTransitProvider(`vault-transit:///${KEY}?VAULT_NAMESPACE=admin%2Fteam-a`, { env: base });
      await viaUri.encrypt(Buffer.from('n'));
      expect(ns.calls.every((c) => c.namespace === 'admin/team-a')).toBe(true);
      const wrong = new VaultTransitProvider(`vault-transit:///${KEY}`, { env: { ...base, VAULT_NAMESPACE: 'other' } });
      const e = await wrong.encrypt(Buffer.from('n')).catch((x) => x as Error);
      expect(e).toBeInstanceOf(KeyError);
      expect((e as Error).message).toContain('HTTP 404');
    } finally {
      await ns.stop();
    }
  });

  test('429 is retried a bounded number of times', async () => {
    const p = open(undefined, { retryBaseMs: 1, maxAttempts: 3 });
    vault.throttleNext(2);
    await expect(p.encrypt(Buffer.from('x'))).resolves.toBeInstanceOf(Buffer);
    vault.throttleNext(3);
    expect((await refusal(p.encrypt(Buffer.from('x')))).message).toContain('gave up after 3 attempts');
    vault.throttleNext(0);
  });

  test('unreachable Vault -> KeyError "unreachable"', async () => {
    const e = await refusal(open(undefined, { env: { VAULT_ADDR: 'http://127.0.0.1:1', VAULT_TOKEN: vault.token } }).encrypt(Buffer.from('x')));
    expect(e.message).toMatch(/unreachable.*ECONNREFUSED/);
  });

  test('TLS: VAULT_CACERT trusts a private CA; without it the connection is refused', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-tls-'));
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const tls = await start({ tls: { key: fs.readFileSync(key), cert: fs.readFileSync(cert) } });
    try {
      tls.createKey(KEY);
      const base = { VAULT_ADDR: tls.endpoint, VAULT_TOKEN: tls.token };
      const trusted = new VaultTransitProvider(`vault-transit:///${KEY}?VAULT_CACERT=${encodeURIComponent(cert)}`, { env: base });
      expect((await trusted.decrypt(await trusted.encrypt(Buffer.from('tls')))).toString()).toBe('tls');
      const untrusted = new VaultTransitProvider(`vault-transit:///${KEY}`, { env: base });
      await expect(untrusted.encrypt(Buffer.from('tls'))).rejects.toBeInstanceOf(KeyError);
    } finally {
      await tls.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('URI rules', () => {
    expect(() => open('vault-transit:///onlykey')).toThrow(UsageError);
    expect(() => new VaultTransitProvider(`vault-transit:///${KEY}`, { env: { VAULT_TOKEN: 't' } })).toThrow(/VAULT_ADDR/);
    expect(() => new VaultTransitProvider(`vault-transit:///${KEY}`, { env: { VAULT_ADDR: vault.endpoint } })).toThrow(/VAULT_TOKEN/);
    let err: Error | undefined;
    try {
      open(`vault-transit:///${KEY}?VAULT_TOKN=hvs.secretsecret`);
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect(err!.message).toContain('VAULT_TOKN');
    expect(err!.message).not.toContain('hvs.secretsecret');
  });

  test('checkKey', async () => {
    expect(await checkKey(open())).toMatchObject({ provider: 'vault-transit', keyId: KEY, ok: true });
  });
});
