/**
 * `keys check` through the built CLI (run `npx tsc -p tsconfig.build.json` first), against the
 * in-repo emulators running in this process.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, type CliResult } from '../helpers/cli';
import { start as startAws, type AwsKmsEmulator } from '../emulators/aws-kms-server';
import { start as startGcp, type GcpKmsEmulator } from '../emulators/gcp-kms-server';
import { start as startVault, type VaultEmulator } from '../emulators/vault-server';

const SECRET = 'cli+Secret/Access+Key0123456789abcdefABCD';
const AKID = 'AKIACLITEST00000001';
const BEARER = 'ya29.cli-bearer-token-abcdefghijkl';
const GCP_KEY = 'projects/p/locations/global/keyRings/r/cryptoKeys/cmek';

let aws: AwsKmsEmulator;
let gcp: GcpKmsEmulator;
let vault: VaultEmulator;
let dir: string;

const awsUri = (key: string) =>
  `aws-kms:///${key}?REGION=us-east-1&AWS_ENDPOINT=${encodeURIComponent(aws.endpoint)}&AWS_ACCESS_KEY_ID=${AKID}&AWS_SECRET_ACCESS_KEY=${encodeURIComponent(SECRET)}`;

function noSecrets(r: CliResult, ...extra: string[]) {
  for (const s of [SECRET, encodeURIComponent(SECRET), AKID, BEARER, vault.token, ...extra]) {
    expect(r.stdout).not.toContain(s);
    expect(r.stderr).not.toContain(s);
  }
}

beforeAll(async () => {
  [aws, gcp, vault] = await Promise.all([startAws(), startGcp(), startVault()]);
  aws.createKey('alias/cli-ok');
  aws.createKey('alias/cli-disabled');
  aws.disableKey('alias/cli-disabled');
  gcp.createKey(GCP_KEY);
  vault.createKey('transit/cli');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-check-'));
});
afterAll(async () => {
  await Promise.all([aws.stop(), gcp.stop(), vault.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('crdb-cmek keys check', () => {
  test('AWS KMS ok: prints provider, key ID and latency; exit 0', async () => {
    const r = await runCli(['keys', 'check', awsUri('alias/cli-ok')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ok: aws-kms key alias/cli-ok');
    expect(r.stdout).toMatch(/latency:\s+[\d.]+ ms/);
    expect(r.stdout).toContain('AWS_SECRET_ACCESS_KEY=redacted');
    noSecrets(r);
    expect(aws.calls.filter((c) => c.keyId === 'alias/cli-ok').map((c) => c.op)).toEqual(['Encrypt', 'Decrypt']);
  });

  test('--json: one document with provider, keyId, latencyMs', async () => {
    const r = await runCli(['keys', 'check', awsUri('alias/cli-ok'), '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ provider: 'aws-kms', keyId: 'alias/cli-ok', ok: true });
    expect(typeof doc.latencyMs).toBe('number');
    noSecrets(r);
  });

  test('disabled key: exit 3 with the service reason, no secrets', async () => {
    const r = await runCli(['keys', 'check', awsUri('alias/cli-disabled')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('the CMEK refused');
    expect(r.stderr).toContain('DisabledException');
    expect(r.stderr).toContain('alias/cli-disabled');
    noSecrets(r);
    const j = await runCli(['keys', 'check', awsUri('alias/cli-disabled'), '--json']);
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stdout).error.message).toContain('DisabledException');
    noSecrets(j);
  });

  test('AUTH=implicit uses the SDK default chain (here: the environment)', async () => {
    const env = { AWS_ACCESS_KEY_ID: 'AKIAFROMENVIRONMENT', AWS_SECRET_ACCESS_KEY: 'env-secret-0123456789', AWS_EC2_METADATA_DISABLED: 'true' };
    const r = await runCli(['keys', 'check', `aws-kms:///alias/cli-ok?REGION=us-east-1&AUTH=implicit&AWS_ENDPOINT=${encodeURIComponent(aws.endpoint)}`], { env });
    expect(r.code).toBe(0);
    expect(aws.calls[aws.calls.length - 1].accessKeyId).toBe('AKIAFROMENVIRONMENT');
    noSecrets(r, 'env-secret-0123456789');
  });

  test('missing key: exit 3 NotFoundException', async () => {
    const r = await runCli(['keys', 'check', awsUri('alias/never-made')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('NotFoundException');
  });

  test('Google Cloud KMS via the emulator endpoint; version suffix dropped from the key ID', async () => {
    const env = { CRDB_CMEK_GCP_KMS_ENDPOINT: gcp.endpoint };
    const r = await runCli(['keys', 'check', `gcp-kms:///${GCP_KEY}/cryptoKeyVersions/1?BEARER_TOKEN=${BEARER}`], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ok: gcp-kms key ${GCP_KEY}\n`);
    noSecrets(r);
    gcp.denyAccess(GCP_KEY);
    const d = await runCli(['keys', 'check', `gcp-kms:///${GCP_KEY}?BEARER_TOKEN=${BEARER}`], { env });
    gcp.allowAccess(GCP_KEY);
    expect(d.code).toBe(3);
    expect(d.stderr).toContain('PERMISSION_DENIED');
    noSecrets(d);
  });

  test('Vault Transit from VAULT_ADDR / VAULT_TOKEN; revoked policy exits 3 with "permission denied"', async () => {
    const env = { VAULT_ADDR: vault.endpoint, VAULT_TOKEN: vault.token };
    const r = await runCli(['keys', 'check', 'vault-transit:///transit/cli'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ok: vault-transit key transit/cli');
    vault.denyAccess('transit/cli');
    const d = await runCli(['keys', 'check', 'vault-transit:///transit/cli'], { env });
    vault.allowAccess('transit/cli');
    expect(d.code).toBe(3);
    expect(d.stderr).toContain('permission denied');
    noSecrets(d);
  });

  test('file CMEK: key ID is the hex key ID; a missing file exits 3', async () => {
    const id = crypto.randomBytes(32);
    const f = path.join(dir, 'cmek.key');
    fs.writeFileSync(f, Buffer.concat([id, crypto.randomBytes(32)]));
    const r = await runCli(['keys', 'check', `file://${f}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ok: file key ${id.toString('hex')}`);
    const m = await runCli(['keys', 'check', `file://${dir}/missing.key`]);
    expect(m.code).toBe(3);
    expect(m.stderr).toContain('ENOENT');
  });

  test('unknown URI parameter: exit 2 naming the parameter, never its value', async () => {
    const r = await runCli(['keys', 'check', `aws-kms:///alias/x?REGION=us-east-1&AWS_SECRET_KEY=${encodeURIComponent(SECRET)}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('AWS_SECRET_KEY');
    noSecrets(r);
    const s = await runCli(['keys', 'check', 'ldap:///x']);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain('unsupported KMS scheme');
  });
});
