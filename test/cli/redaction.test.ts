/**
 * Redaction sweep (issue 4): every command is run through the built CLI with secret-bearing URIs
 * (AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, CREDENTIALS = base64 service-account JSON, BEARER_TOKEN,
 * VAULT_TOKEN as a URI parameter) and passphrases from files and the environment, in successful and
 * failing runs, plain, --json, --progress and --report; no secret value, raw or URL-decoded (nor a
 * piece of the service account's private key), may appear in stdout, stderr, a report file, or the
 * in-progress marker a failed write leaves in its destination.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, type CliResult } from '../helpers/cli';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver';
import { startGcsEmulator, type GcsEmulator } from '../emulators/gcs-server';
import { startFaultProxy } from '../helpers/fault-proxy';
import { makeCollection, startKmsFixtures, type KmsFixtures, type MadeCollection } from '../helpers/make-collection';
import { openStore } from '../../src/storage/index';
import { INCOMPLETE_MARKER as MARKER } from '../../src/engines/markers';

jest.setTimeout(240_000);


// Secret values, with characters that URL encoding changes, so both forms are looked for.
const PASS = 'correct horse/battery+staple=redaction-1';
const PASS_TARGET = 'new target passphrase&more=redaction-2';
const PASS_WRONG = 'wrong passphrase/for+redaction=3';
const S3_SECRET = 's3/Secret+Access=Key&redaction~4';
const S3_SESSION = 'FwoGZXIvYXdz/session+token==redaction-5';
const S3_WRONG_SECRET = 'wrong/s3+secret=redaction-6';
const GCS_BEARER = 'ya29.gcs/bearer+token=redaction-7';
const GCP_KMS_BEARER = 'ya29.kms/bearer+token=redaction-8';
const KMS_SECRET = 'kms/Secret+Access=Key&redaction~9';
const KMS_SESSION = 'kms/session+token==redaction-10';
const WRONG_VAULT_TOKEN = 'hvs.wrong-vault-token-redaction-11';
const PRIVATE_KEY_ID = 'pkid-redaction-0123456789abcdef';

let tmp: string;
let s3: S3rverHandle;
let gcs: GcsEmulator;
let fx: KmsFixtures;
let coll: MadeCollection;
let credentialsB64: string;
let privateKey: string;
let vaultToken: string;
let awsKeyUri: string;
let gcpKeyName: string;
let vaultKey: string;
let passFile: string;
let passTargetFile: string;
let passWrongFile: string;
const checked: string[] = []; // labels of every output checked (for a final sanity assertion)

/** Every form of every secret that must never be printed. */
function secretForms(): { name: string; value: string }[] {
  const raw: Record<string, string> = {
    PASS,
    PASS_TARGET,
    PASS_WRONG,
    S3_SECRET,
    S3_SESSION,
    S3_WRONG_SECRET,
    GCS_BEARER,
    GCP_KMS_BEARER,
    KMS_SECRET,
    KMS_SESSION,
    WRONG_VAULT_TOKEN,
    VAULT_TOKEN: vaultToken,
    CREDENTIALS: credentialsB64,
    PRIVATE_KEY_ID,
  };
  // Pieces of the private key's base64 body (any line of it would be a leak).
  const body = privateKey.split('\n').filter((l) => l && !l.startsWith('-----'));
  raw.PRIVATE_KEY_LINE_1 = body[1];
  raw.PRIVATE_KEY_LINE_LAST = body[body.length - 2];
  const out: { name: string; value: string }[] = [];
  for (const [name, value] of Object.entries(raw)) {
    const forms = new Set([value, encodeURIComponent(value), new URLSearchParams({ x: value }).toString().slice(2)]);
    for (const f of forms) out.push({ name, value: f });
  }
  return out;
}

function expectNoSecrets(label: string, ...texts: string[]): void {
  checked.push(label);
  const all = texts.join('\n');
  const found = secretForms()
    .filter((s) => all.includes(s.value))
    .map((s) => s.name);
  expect({ label, leaked: [...new Set(found)] }).toEqual({ label, leaked: [] });
}

/** Runs the CLI and checks stdout, stderr and any report files named. */
async function run(label: string, args: string[], opts: { env?: NodeJS.ProcessEnv; reports?: string[]; code?: number | 'nonzero' } = {}): Promise<CliResult> {
  const r = await runCli(args, { env: { ...fx.env, ...gcs.env, PASS_ENV: PASS, TARGET_ENV: PASS_TARGET, ...opts.env }, timeoutMs: 200_000 });
  if (opts.code === 'nonzero') expect({ label, nonzero: r.code !== 0 }).toEqual({ label, nonzero: true });
  else if (opts.code !== undefined) expect(r.code === opts.code ? { label, code: r.code } : { label, code: r.code, stderr: r.stderr }).toEqual({ label, code: opts.code });
  const reports = (opts.reports ?? []).filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f, 'utf8'));
  expect({ label, reports: reports.length }).toEqual({ label, reports: (opts.reports ?? []).length });
  expectNoSecrets(label, r.stdout, r.stderr, ...reports);
  return r;
}

const s3WithSecrets = (prefix: string, extra: Record<string, string> = {}) =>
  s3.uriFor(prefix, { params: { AWS_SECRET_ACCESS_KEY: S3_SECRET, AWS_SESSION_TOKEN: S3_SESSION, ...extra } });
const gsBearer = (prefix: string) => gcs.uriFor(prefix, { BEARER_TOKEN: GCS_BEARER });
const gsCreds = (prefix: string) => gcs.uriFor(prefix, { CREDENTIALS: credentialsB64 });
const awsKms = () => awsKeyUri;
const gcpKmsBearer = () => `gcp-kms:///${gcpKeyName}?AUTH=specified&BEARER_TOKEN=${encodeURIComponent(GCP_KMS_BEARER)}`;
const gcpKmsCreds = () => `gcp-kms:///${gcpKeyName}?AUTH=specified&CREDENTIALS=${encodeURIComponent(credentialsB64)}`;
const vaultUri = (token = vaultToken) => `vault-transit:///${vaultKey}?VAULT_TOKEN=${encodeURIComponent(token)}`;
/** Vault's token only through the URI parameter in these runs. */
const NO_VAULT_ENV = { VAULT_TOKEN: '' };

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-redact-'));
  passFile = path.join(tmp, 'pass.txt');
  fs.writeFileSync(passFile, `${PASS}\n`);
  passTargetFile = path.join(tmp, 'target.txt');
  fs.writeFileSync(passTargetFile, `${PASS_TARGET}\n`);
  passWrongFile = path.join(tmp, 'wrong.txt');
  fs.writeFileSync(passWrongFile, `${PASS_WRONG}\n`);

  const { privateKey: pk } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  privateKey = pk.export({ type: 'pkcs8', format: 'pem' }).toString();
  credentialsB64 = Buffer.from(
    JSON.stringify({
      type: 'service_account',
      project_id: 'redaction-project',
      private_key_id: PRIVATE_KEY_ID,
      private_key: privateKey,
      client_email: 'backup@redaction-project.iam.gserviceaccount.com',
      token_uri: 'https://oauth2.googleapis.com/token',
    }),
  ).toString('base64');

  [s3, gcs, fx] = await Promise.all([startS3rver(), startGcsEmulator(), startKmsFixtures(fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-redact-kms-')))]);
  vaultToken = fx.vault.token;
  // The AWS KMS emulator does not check signatures: any secret works; these carry ours.
  const awsId = `arn:aws:kms:us-east-1:111122223333:key/redaction-${crypto.randomBytes(3).toString('hex')}`;
  fx.aws.createKey(awsId);
  awsKeyUri = `aws-kms:///${awsId}?REGION=us-east-1&AUTH=specified&AWS_ACCESS_KEY_ID=AKIDREDACTION&AWS_SECRET_ACCESS_KEY=${encodeURIComponent(KMS_SECRET)}&AWS_SESSION_TOKEN=${encodeURIComponent(KMS_SESSION)}&AWS_ENDPOINT=${encodeURIComponent(fx.aws.endpoint)}`;
  gcpKeyName = `projects/p1/locations/global/keyRings/backups/cryptoKeys/redaction-${crypto.randomBytes(3).toString('hex')}`;
  fx.gcp.createKey(gcpKeyName);
  vaultKey = `transit/redaction-${crypto.randomBytes(3).toString('hex')}`;
  fx.vault.createKey(vaultKey);

  coll = await makeCollection(path.join(tmp, 'coll'), { kind: 'passphrase', passphrase: PASS });
  for (const [uri, env] of [
    [s3WithSecrets('src'), undefined],
    [s3WithSecrets('rewrap'), undefined],
    [gsBearer('src'), gcs.env],
  ] as const) {
    const st = await openStore(uri, { env });
    for (const key of coll.objects) await st.write(key, fs.readFileSync(path.join(coll.root, key)));
  }
});

afterAll(async () => {
  await Promise.all([s3?.stop(), gcs?.stop(), fx?.stop()]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('no secret in any output of any command', () => {
  test('backup verify: ok, --json, --progress, every --report format, wrong passphrase, refused credentials', async () => {
    const reports = ['json', 'md', 'xml'].map((e) => path.join(tmp, `verify-report.${e}`));
    for (const rep of reports) {
      await run(`verify s3 --report ${path.extname(rep)}`, ['backup', 'verify', s3WithSecrets('src'), '--passphrase-file', passFile, '--report', rep, '--progress'], { code: 0, reports: [rep] });
    }
    const j = await run('verify gs CREDENTIALS --json', ['backup', 'verify', gsCreds('src'), '--passphrase-env', 'PASS_ENV', '--json'], { code: 0 });
    expect(JSON.parse(j.stdout).target).toMatch(/CREDENTIALS=redacted/);
    await run('verify gs BEARER plain', ['backup', 'verify', gsBearer('src'), '--passphrase-file', passFile], { code: 0 });
    const wrongRep = path.join(tmp, 'verify-wrong.json');
    await run('verify wrong passphrase', ['backup', 'verify', s3WithSecrets('src'), '--passphrase-file', passWrongFile, '--json', '--report', wrongRep], { code: 3, reports: [wrongRep] });
    await run('verify wrong passphrase env', ['backup', 'verify', gsCreds('src'), '--passphrase-env', 'WRONG_ENV'], { code: 3, env: { WRONG_ENV: PASS_WRONG } });
    const denied = s3.uriFor('src', { params: { AWS_ACCESS_KEY_ID: 'AKIAREDACTIONWRONG', AWS_SECRET_ACCESS_KEY: S3_WRONG_SECRET, AWS_SESSION_TOKEN: S3_SESSION } });
    const d = await run('verify access denied --json', ['backup', 'verify', denied, '--passphrase-file', passFile, '--json'], { code: 4 });
    expect(d.stdout + d.stderr).not.toContain('AKIAREDACTIONWRONG');
    await run('verify access denied plain', ['backup', 'verify', denied, '--passphrase-file', passFile], { code: 4 });
    gcs.inject(403); // not retried: one is enough
    await run('verify gs 403', ['backup', 'verify', gsCreds('src'), '--passphrase-file', passFile, '--json'], { code: 4 });
    expect(gcs.pending()).toBe(0);
  });

  test('backup verify with KMS and CMEK URIs that refuse (wrong Vault token, unknown KMS key)', async () => {
    await run('verify --kms not in backup', ['backup', 'verify', s3WithSecrets('src'), '--kms', awsKms(), '--json'], { code: 3 });
    await run('verify --cmek wrong vault token', ['backup', 'verify', s3WithSecrets('src'), '--cmek', vaultUri(WRONG_VAULT_TOKEN)], { code: 'nonzero', env: NO_VAULT_ENV });
  });

  test('usage errors and oclif parse errors do not echo URIs with secrets', async () => {
    await run('unknown S3 parameter', ['backup', 'verify', s3WithSecrets('src', { NOT_A_PARAM: 'x' }), '--passphrase-file', passFile], { code: 2 });
    await run('unexpected extra argument', ['backup', 'inspect', s3WithSecrets('src'), s3WithSecrets('other')], { code: 2 });
    const j = await run('unexpected extra argument --json', ['backup', 'decrypt', s3WithSecrets('a'), gsCreds('b'), gsBearer('c'), '--json'], { code: 2 });
    expect(JSON.parse(j.stdout).error.message).toMatch(/Unexpected argument: gs:\/\/test-bucket\/c\?BEARER_TOKEN=redacted/);
    await run('extra argument to keys check', ['keys', 'check', vaultUri(), gcpKmsBearer()], { code: 2, env: NO_VAULT_ENV });
    await run('bad flag value', ['backup', 'verify', s3WithSecrets('src'), '--passphrase-file', passFile, '--concurrency', '0'], { code: 2 });
    await run('unknown flag', ['backup', 'decrypt', s3WithSecrets('src'), gsCreds('x'), '--no-such-flag', '--passphrase-file', passFile], { code: 2 });
    await run('bad KMS URI', ['backup', 'verify', s3WithSecrets('src'), '--kms', `aws-kms:///?AWS_SECRET_ACCESS_KEY=${encodeURIComponent(KMS_SECRET)}`], { code: 'nonzero' });
    await run('bad CREDENTIALS', ['backup', 'verify', gcs.uriFor('src', { CREDENTIALS: Buffer.from(`{"private_key_id":"${PRIVATE_KEY_ID}"`).toString('base64') }), '--passphrase-file', passFile], { code: 2 });
    await run('unsupported scheme', ['backup', 'verify', `azure://c/p?AZURE_ACCOUNT_KEY=${encodeURIComponent(S3_SECRET)}`, '--passphrase-file', passFile], { code: 'nonzero' });
  });

  test('backup inspect: without and with a key, --json, missing prefix', async () => {
    await run('inspect s3', ['backup', 'inspect', s3WithSecrets('src')], { code: 0 });
    const j = await run('inspect gs --json with key', ['backup', 'inspect', gsCreds('src'), '--passphrase-file', passFile, '--json'], { code: 0 });
    expect(JSON.parse(j.stdout).target).toMatch(/^gs:\/\/test-bucket\/src\?CREDENTIALS=redacted/);
    await run('inspect missing prefix', ['backup', 'inspect', s3WithSecrets('nothing/here'), '--json'], { code: 4 });
  });

  test('backup decrypt / encrypt / reencrypt between secret-bearing stores, with KMS and CMEK targets', async () => {
    const dec = gsCreds('dec');
    const d = await run('decrypt s3 -> gs --json', ['backup', 'decrypt', s3WithSecrets('src'), dec, '--passphrase-file', passFile, '--json', '--progress'], { code: 0 });
    expect(JSON.parse(d.stdout).destination).toMatch(/CREDENTIALS=redacted/);
    await run('encrypt gs -> s3 --kms', ['backup', 'encrypt', dec, s3WithSecrets('enc'), '--kms', awsKms(), '--json'], { code: 0 });
    await run('verify encrypted with --kms', ['backup', 'verify', s3WithSecrets('enc'), '--kms', awsKms()], { code: 0 });
    await run('reencrypt s3 -> gs --to-cmek vault', ['backup', 'reencrypt', s3WithSecrets('enc'), gsBearer('cmek'), '--kms', awsKms(), '--to-cmek', vaultUri(), '--progress'], { code: 0, env: NO_VAULT_ENV });
    await run('reencrypt gs -> s3 --to-passphrase-env', ['backup', 'reencrypt', gsBearer('src'), s3WithSecrets('re-pass'), '--passphrase-env', 'PASS_ENV', '--to-passphrase-env', 'TARGET_ENV', '--json'], { code: 0 });
    await run('encrypt --cmek gcp CREDENTIALS', ['backup', 'encrypt', dec, s3WithSecrets('enc-gcp'), '--cmek', gcpKmsCreds(), '--json'], { code: 0 });
    await run('verify --cmek gcp CREDENTIALS', ['backup', 'verify', s3WithSecrets('enc-gcp'), '--cmek', gcpKmsCreds(), '--json'], { code: 0 });
    // Failing runs.
    await run('decrypt wrong passphrase', ['backup', 'decrypt', s3WithSecrets('src'), gsCreds('dec-wrong'), '--passphrase-file', passWrongFile, '--json'], { code: 3 });
    await run('decrypt into non-empty destination', ['backup', 'decrypt', s3WithSecrets('src'), dec, '--passphrase-file', passFile], { code: 2 });
    await run('reencrypt --to-cmek wrong vault token', ['backup', 'reencrypt', s3WithSecrets('src'), gsBearer('cmek-wrong'), '--passphrase-file', passFile, '--to-cmek', vaultUri(WRONG_VAULT_TOKEN), '--json'], { code: 3, env: NO_VAULT_ENV });
  });

  test('a write that fails mid-run: the error and the marker left in the destination hold no secret', async () => {
    // The first upload of a data SST to the destination is refused (403, not retried): the marker is
    // already there. The destination is S3 behind a fault proxy (the object key is in the PUT's URL).
    const proxy = await startFaultProxy(s3.endpoint);
    try {
      proxy.injectWhen((req) => req.method === 'PUT' && /\/half\/.*\/data\//.test(req.url ?? ''), 403);
      const dst = s3.uriFor('half', { endpoint: proxy.endpoint, params: { AWS_SECRET_ACCESS_KEY: S3_SECRET, AWS_SESSION_TOKEN: S3_SESSION } });
      await run('decrypt into a refusing destination', ['backup', 'decrypt', gsCreds('src'), dst, '--passphrase-file', passFile, '--concurrency', '1', '--json'], { code: 4 });
      expect(proxy.pending()).toBe(0);
    } finally {
      await proxy.stop();
    }
    const direct = s3WithSecrets('half');
    const st = await openStore(direct);
    const marker = (await st.read(MARKER)).toString('utf8');
    expect(JSON.parse(marker).source).toMatch(/CREDENTIALS=redacted/);
    expectNoSecrets('incomplete marker object', marker);
    const v = await run('verify the incomplete destination', ['backup', 'verify', direct, '--json'], { code: 1 });
    expect(v.stdout).toMatch(/incomplete/);
  });

  test('backup rewrap: --add-kms with a bearer token, --to-cmek with CREDENTIALS, refusals', async () => {
    const uri = s3WithSecrets('rewrap');
    await run('rewrap --add-kms gcp bearer --json', ['backup', 'rewrap', uri, '--passphrase-file', passFile, '--add-kms', gcpKmsBearer(), '--json'], { code: 0 });
    await run('verify after --add-kms', ['backup', 'verify', uri, '--kms', gcpKmsBearer()], { code: 0 });
    const chain = s3WithSecrets('rewrap-cmek');
    await run('reencrypt to a vault CMEK chain', ['backup', 'reencrypt', s3WithSecrets('src'), chain, '--passphrase-file', passFile, '--to-cmek', vaultUri()], { code: 0, env: NO_VAULT_ENV });
    await run('rewrap --cmek vault --to-cmek gcp CREDENTIALS --json', ['backup', 'rewrap', chain, '--cmek', vaultUri(), '--to-cmek', gcpKmsCreds(), '--json'], { code: 0, env: NO_VAULT_ENV });
    await run('rewrap --cmek gcp --new-store-key', ['backup', 'rewrap', chain, '--cmek', gcpKmsCreds(), '--new-store-key'], { code: 0 });
    await run('verify after rewraps', ['backup', 'verify', chain, '--cmek', gcpKmsCreds()], { code: 0 });
    await run('rewrap wrong passphrase', ['backup', 'rewrap', s3WithSecrets('src'), '--passphrase-file', passWrongFile, '--add-kms', awsKms()], { code: 3 });
    fx.gcp.denyAccess(gcpKeyName);
    try {
      await run('rewrap --add-kms denied', ['backup', 'rewrap', s3WithSecrets('src'), '--passphrase-file', passFile, '--add-kms', gcpKmsBearer(), '--json'], { code: 3 });
    } finally {
      fx.gcp.allowAccess(gcpKeyName);
    }
  });

  test('backup audit: --json, --report md/json/xml, --cmek, revocation drill, wrong key', async () => {
    const reports = ['json', 'md', 'xml'].map((e) => path.join(tmp, `audit.${e}`));
    for (const rep of reports) {
      await run(`audit s3 --report ${path.extname(rep)}`, ['backup', 'audit', s3WithSecrets('src'), '--passphrase-file', passFile, '--report', rep], { code: 0, reports: [rep] });
    }
    await run('audit gs --cmek vault --json', ['backup', 'audit', gsBearer('cmek'), '--cmek', vaultUri(), '--json'], { code: 0, env: NO_VAULT_ENV });
    const drill = path.join(tmp, 'drill.json');
    await run('audit --expect-revoked (wrong vault token: refused)', ['backup', 'audit', gsBearer('cmek'), '--cmek', vaultUri(WRONG_VAULT_TOKEN), '--expect-revoked', '--report', drill], { code: 0, env: NO_VAULT_ENV, reports: [drill] });
    await run('audit wrong passphrase', ['backup', 'audit', gsCreds('src'), '--passphrase-env', 'WRONG_ENV', '--json'], { code: 3, env: { WRONG_ENV: PASS_WRONG } });
  });

  test('keys check: every provider with secrets in its URI, ok and refused', async () => {
    for (const [label, uri] of [
      ['aws', awsKms()],
      ['gcp bearer', gcpKmsBearer()],
      ['gcp credentials', gcpKmsCreds()],
      ['vault token param', vaultUri()],
    ] as const) {
      await run(`keys check ${label}`, ['keys', 'check', uri], { code: 0, env: NO_VAULT_ENV });
      const j = await run(`keys check ${label} --json`, ['keys', 'check', uri, '--json'], { code: 0, env: NO_VAULT_ENV });
      expect(j.stdout).toMatch(/redacted|keyId/);
    }
    await run('keys check wrong vault token', ['keys', 'check', vaultUri(WRONG_VAULT_TOKEN), '--json'], { code: 3, env: NO_VAULT_ENV });
    fx.gcp.disableKey(gcpKeyName);
    try {
      await run('keys check disabled gcp key', ['keys', 'check', gcpKmsCreds()], { code: 3 });
    } finally {
      fx.gcp.enableKey(gcpKeyName);
    }
    const awsId = decodeURIComponent(awsKms().replace(/^aws-kms:\/\/\//, '').replace(/\?.*$/, ''));
    fx.aws.disableKey(awsId);
    try {
      await run('keys check disabled aws key --json', ['keys', 'check', awsKms(), '--json'], { code: 3 });
    } finally {
      fx.aws.enableKey(awsId);
    }
    await run('keys check unknown parameter', ['keys', 'check', `${vaultUri()}&NOPE=1`], { code: 'nonzero', env: NO_VAULT_ENV });
  });

  test('keys generate never prints the key; file encrypt / decrypt never print the passphrase or key', async () => {
    const keyFile = path.join(tmp, 'gen.key');
    const g = await run('keys generate --json', ['keys', 'generate', keyFile, '--json'], { code: 0 });
    const keyBytes = fs.readFileSync(keyFile);
    for (const form of [keyBytes.toString('hex'), keyBytes.toString('base64'), keyBytes.subarray(keyBytes.length - 32).toString('hex')]) {
      expect(g.stdout + g.stderr).not.toContain(form);
    }
    await run('keys generate refuses to overwrite', ['keys', 'generate', keyFile], { code: 'nonzero' });

    const plain = path.join(tmp, 'plain.bin');
    fs.writeFileSync(plain, crypto.randomBytes(100_000));
    const info = path.join(tmp, 'ENCRYPTION-INFO');
    const enc = path.join(tmp, 'plain.enc');
    await run('file encrypt --passphrase-file', ['file', 'encrypt', '--passphrase-file', passFile, '--encryption-info', info, plain, enc, '--json'], { code: 0 });
    await run('file decrypt --passphrase-env', ['file', 'decrypt', '--passphrase-env', 'PASS_ENV', '--encryption-info', info, enc, path.join(tmp, 'back.bin')], { code: 0 });
    expect(fs.readFileSync(path.join(tmp, 'back.bin')).equals(fs.readFileSync(plain))).toBe(true);
    await run('file decrypt wrong passphrase --json', ['file', 'decrypt', '--passphrase-file', passWrongFile, '--encryption-info', info, enc, path.join(tmp, 'x.bin'), '--json'], { code: 'nonzero' });
    const dataKey = path.join(tmp, 'data.key');
    fs.writeFileSync(dataKey, crypto.randomBytes(32).toString('hex'));
    const kEnc = path.join(tmp, 'k.enc');
    const fe = await run('file encrypt --key-file', ['file', 'encrypt', '--key-file', dataKey, plain, kEnc], { code: 0 });
    expect(fe.stdout + fe.stderr).not.toContain(fs.readFileSync(dataKey, 'utf8'));
    const wrongKey = path.join(tmp, 'wrong.key');
    fs.writeFileSync(wrongKey, crypto.randomBytes(32).toString('hex'));
    const fw = await run('file decrypt wrong key', ['file', 'decrypt', '--key-file', wrongKey, kEnc, path.join(tmp, 'y.bin')], { code: 'nonzero' });
    expect(fw.stdout + fw.stderr).not.toContain(fs.readFileSync(wrongKey, 'utf8'));
  });

  test('the sweep covered every command', () => {
    const cmds = ['verify', 'inspect', 'decrypt', 'encrypt', 'reencrypt', 'rewrap', 'audit', 'keys check', 'keys generate', 'file encrypt', 'file decrypt'];
    for (const c of cmds) expect(checked.some((l) => l.startsWith(c))).toBe(true);
    // The secret matcher itself works: a leak would be caught.
    expect(() => expectNoSecrets('self-test', `x ${encodeURIComponent(S3_SECRET)} y`)).toThrow();
    checked.pop();
  });
});
