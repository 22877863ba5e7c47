/**
 * Storage URIs in CockroachDB's own syntax (spec: crdb-backup-format.md section 4).
 *
 *   s3://bucket/prefix?AWS_ACCESS_KEY_ID&AWS_SECRET_ACCESS_KEY&AWS_SESSION_TOKEN&AWS_ENDPOINT&AWS_REGION&
 *        AWS_USE_PATH_STYLE&AUTH&ASSUME_ROLE&S3_STORAGE_CLASS&AWS_SERVER_ENC_MODE&AWS_SERVER_KMS_ID
 *   gs://bucket/prefix?AUTH&CREDENTIALS&BEARER_TOKEN&ASSUME_ROLE&GOOGLE_BILLING_PROJECT
 *
 * Rules taken from CockroachDB (pkg/cloud/amazon/s3_storage.go, pkg/cloud/gcp/gcs_storage.go):
 * - parameter names are case-sensitive; an unknown parameter is an error (we name it, never its value);
 * - an empty value is the same as an absent parameter;
 * - S3: AUTH is "" / "specified" (then AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required) or
 *   "implicit" (the SDK's default credential chain); anything else is an error. A space in the secret is
 *   turned back into '+' (an unescaped '+' in a query string decodes as a space; AWS secrets never hold
 *   spaces). AWS_SERVER_ENC_MODE is AES256 or aws:kms, and aws:kms needs AWS_SERVER_KMS_ID;
 * - GCS: AUTH=implicit uses application default credentials; otherwise CREDENTIALS (base64 of a
 *   service-account JSON) or BEARER_TOKEN must be given, CREDENTIALS winning when both are;
 * - ASSUME_ROLE is a comma-separated chain "role[;external_id=x]": every role but the last is a delegate
 *   assumed in order, the last one is assumed finally (GCS: service accounts impersonated in order).
 *
 * AWS_USE_PATH_STYLE (true/false) forces path-style or virtual-hosted addressing; when it is absent we
 * use path style exactly when AWS_ENDPOINT is given (what CockroachDB does for custom endpoints such as
 * MinIO and Ceph), virtual-hosted style for AWS itself.
 */
import { UsageError } from '../errors';
import { redactUri, secretsOfUri } from '../redact';

export interface AssumeRoleProvider {
  role: string;
  externalId?: string;
}

interface BaseLocation {
  bucket: string;
  /** Key prefix inside the bucket: no leading or trailing '/', '' for the bucket root. */
  prefix: string;
  /** The URI with every secret parameter redacted: safe to print. */
  displayUri: string;
  /** Secret values carried by the URI (raw and decoded), for scrubbing free-form messages. */
  secrets: string[];
  auth: 'specified' | 'implicit';
  /** Delegates first, the finally assumed role last; empty when no role is assumed. */
  assumeRole: AssumeRoleProvider[];
}

export interface S3Location extends BaseLocation {
  scheme: 's3';
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  endpoint?: string;
  region?: string;
  forcePathStyle: boolean;
  storageClass?: string;
  serverEncMode?: 'AES256' | 'aws:kms';
  serverKmsId?: string;
}

export interface GcsLocation extends BaseLocation {
  scheme: 'gs';
  /** Base64 of a service-account JSON key. */
  credentials?: string;
  bearerToken?: string;
  billingProject?: string;
}

export const S3_PARAMS = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_ENDPOINT',
  'AWS_REGION',
  'AWS_USE_PATH_STYLE',
  'AUTH',
  'ASSUME_ROLE',
  'S3_STORAGE_CLASS',
  'AWS_SERVER_ENC_MODE',
  'AWS_SERVER_KMS_ID',
] as const;

export const GCS_PARAMS = ['AUTH', 'CREDENTIALS', 'BEARER_TOKEN', 'ASSUME_ROLE', 'GOOGLE_BILLING_PROJECT'] as const;

/** Splits "role1;external_id=a,role2" into providers (CockroachDB's ParseRoleProvidersString). */
export function parseAssumeRole(value: string | undefined, what: string): AssumeRoleProvider[] {
  if (!value) return [];
  return value.split(',').map((entry) => {
    const [role, ...opts] = entry.split(';');
    if (!role.trim()) throw new UsageError(`${what}: ASSUME_ROLE has an empty role in its chain`);
    const p: AssumeRoleProvider = { role: role.trim() };
    for (const o of opts) {
      const eq = o.indexOf('=');
      const name = eq < 0 ? o : o.slice(0, eq);
      if (name.trim().toLowerCase() !== 'external_id' || eq < 0) {
        throw new UsageError(`${what}: unknown ASSUME_ROLE option "${name.trim()}" (only external_id=... is supported)`);
      }
      p.externalId = o.slice(eq + 1);
    }
    return p;
  });
}

interface Parsed {
  bucket: string;
  prefix: string;
  params: Map<string, string>;
  displayUri: string;
  secrets: string[];
}

function parseCommon(uri: string, scheme: 's3' | 'gs', allowed: readonly string[], label: string): Parsed {
  const displayUri = redactUri(uri);
  const secrets = secretsOfUri(uri);
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i.exec(uri);
  if (!m || m[1].toLowerCase() !== scheme) throw new UsageError(`not a ${scheme}:// URI: ${displayUri}`);
  if (m[5]) throw new UsageError(`${label} URI must not have a #fragment: ${displayUri}`);
  const authority = m[2];
  if (authority.includes('@')) {
    throw new UsageError(`${label} URI must not carry credentials before the bucket; use the query parameters: ${displayUri}`);
  }
  if (!authority) throw new UsageError(`${label} URI must name a bucket (${scheme}://BUCKET/prefix): ${displayUri}`);
  let bucket: string;
  let rawPath: string;
  try {
    bucket = decodeURIComponent(authority);
    rawPath = decodeURIComponent(m[3]);
  } catch {
    throw new UsageError(`${label} URI has a malformed %-escape in its bucket or path: ${displayUri}`);
  }
  const prefix = rawPath.split('/').filter((s) => s.length > 0).join('/');
  const params = new Map<string, string>();
  const unknown: string[] = [];
  const search = new URLSearchParams(m[4] ? m[4].slice(1) : '');
  for (const [name, value] of search) {
    if (!allowed.includes(name)) {
      if (!unknown.includes(name)) unknown.push(name);
      continue;
    }
    if (params.has(name)) throw new UsageError(`${label} URI gives the parameter ${name} more than once: ${displayUri}`);
    params.set(name, value);
  }
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown ${label} query parameter${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`,
      `supported: ${allowed.join(', ')} (names are case-sensitive)`,
    );
  }
  // An empty value means "not given", as in CockroachDB.
  for (const [k, v] of [...params]) if (v === '') params.delete(k);
  return { bucket, prefix, params, displayUri, secrets };
}

function parseAuth(value: string | undefined, label: string): 'specified' | 'implicit' {
  if (value === undefined || value === 'specified') return 'specified';
  if (value === 'implicit') return 'implicit';
  throw new UsageError(`unsupported value for AUTH in the ${label} URI (use "implicit" or "specified")`);
}

function parseBool(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.toLowerCase();
  if (['true', '1', 't', 'yes'].includes(v)) return true;
  if (['false', '0', 'f', 'no'].includes(v)) return false;
  throw new UsageError(`${name} must be true or false`);
}

export function parseS3Uri(uri: string): S3Location {
  const p = parseCommon(uri, 's3', S3_PARAMS, 'S3');
  const g = (k: string) => p.params.get(k);
  const auth = parseAuth(g('AUTH'), 'S3');
  const secret = g('AWS_SECRET_ACCESS_KEY')?.replace(/ /g, '+');
  if (secret && !p.secrets.includes(secret)) p.secrets.push(secret);
  if (auth === 'specified') {
    if (!g('AWS_ACCESS_KEY_ID')) {
      throw new UsageError(
        `AUTH is 'specified' (the default) but AWS_ACCESS_KEY_ID is not set in ${p.displayUri}`,
        'add AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AUTH=implicit to use the SDK default credential chain',
      );
    }
    if (!secret) throw new UsageError(`AUTH is 'specified' (the default) but AWS_SECRET_ACCESS_KEY is not set in ${p.displayUri}`);
  }
  const mode = g('AWS_SERVER_ENC_MODE');
  if (mode !== undefined && mode !== 'AES256' && mode !== 'aws:kms') {
    throw new UsageError('unsupported AWS_SERVER_ENC_MODE: supported values are aws:kms and AES256');
  }
  if (mode === 'aws:kms' && !g('AWS_SERVER_KMS_ID')) {
    throw new UsageError('AWS_SERVER_KMS_ID must be set when AWS_SERVER_ENC_MODE is aws:kms');
  }
  const endpoint = g('AWS_ENDPOINT');
  if (endpoint !== undefined) {
    try {
      const u = new URL(endpoint);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw new UsageError('AWS_ENDPOINT must be an http:// or https:// URL');
    }
  }
  return {
    scheme: 's3',
    bucket: p.bucket,
    prefix: p.prefix,
    displayUri: p.displayUri,
    secrets: p.secrets,
    auth,
    assumeRole: parseAssumeRole(g('ASSUME_ROLE'), 'S3 URI'),
    accessKeyId: g('AWS_ACCESS_KEY_ID'),
    secretAccessKey: secret,
    sessionToken: g('AWS_SESSION_TOKEN'),
    endpoint,
    region: g('AWS_REGION'),
    forcePathStyle: parseBool(g('AWS_USE_PATH_STYLE'), 'AWS_USE_PATH_STYLE') ?? endpoint !== undefined,
    storageClass: g('S3_STORAGE_CLASS'),
    serverEncMode: mode as S3Location['serverEncMode'],
    serverKmsId: g('AWS_SERVER_KMS_ID'),
  };
}

export function parseGcsUri(uri: string): GcsLocation {
  const p = parseCommon(uri, 'gs', GCS_PARAMS, 'GCS');
  const g = (k: string) => p.params.get(k);
  const auth = parseAuth(g('AUTH'), 'GCS');
  const credentials = g('CREDENTIALS');
  const bearerToken = g('BEARER_TOKEN');
  if (auth === 'specified' && !credentials && !bearerToken) {
    throw new UsageError(
      `CREDENTIALS or BEARER_TOKEN must be set unless AUTH is implicit: ${p.displayUri}`,
      'add CREDENTIALS=<base64 service-account JSON> or BEARER_TOKEN=<token>, or AUTH=implicit for application default credentials',
    );
  }
  const assumeRole = parseAssumeRole(g('ASSUME_ROLE'), 'GCS URI');
  if (assumeRole.some((r) => r.externalId !== undefined)) {
    throw new UsageError('GCS ASSUME_ROLE takes service-account emails only (external_id is an AWS option)');
  }
  return {
    scheme: 'gs',
    bucket: p.bucket,
    prefix: p.prefix,
    displayUri: p.displayUri,
    secrets: p.secrets,
    auth,
    assumeRole,
    credentials,
    bearerToken,
    billingProject: g('GOOGLE_BILLING_PROJECT'),
  };
}
