/**
 * Parsing of KMS / CMEK URIs, with CockroachDB's rules: the path names the key, the query carries the
 * parameters, and any parameter nobody consumes is an error ("unknown KMS query parameters: X").
 * Parameter names are case-sensitive (Go's url.Values). Query values are decoded like Go's
 * url.ParseQuery ('+' is a space), so a caller that needs the raw '+' back (AWS secrets) must restore it.
 */
import { UsageError } from '../errors';
import { redactUri, secretsOfUri } from '../redact';

export interface KmsUri {
  /** The URI as given (may hold secrets: never print it). */
  readonly raw: string;
  /** Lower-cased scheme, e.g. 'aws-kms'. */
  readonly scheme: string;
  /** Authority (host) part; empty for 'aws-kms:///key'. */
  readonly host: string;
  /** Percent-decoded path, with its leading '/'. */
  readonly path: string;
  /** First value of each query parameter. */
  readonly params: ReadonlyMap<string, string>;
  /** Redacted, printable form. */
  readonly displayUri: string;
  /** Secret values carried by the URI, to scrub from any message. */
  readonly secrets: string[];
}

const URI_RE = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/i;

/** Parses a KMS URI; `allowed` lists every parameter the provider understands. */
export function parseKmsUri(uri: string, allowed: readonly string[]): KmsUri {
  const m = URI_RE.exec(uri.trim());
  const displayUri = redactUri(uri);
  if (!m) throw new UsageError(`not a KMS URI: ${displayUri}`, 'expected scheme:///key-path?PARAM=value');
  const [, scheme, host, rawPath, rawQuery] = m;
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw new UsageError(`bad percent-encoding in the path of ${displayUri}`);
  }
  const params = new Map<string, string>();
  const unknown: string[] = [];
  if (rawQuery) {
    for (const [name, value] of new URLSearchParams(rawQuery)) {
      if (name === '') continue;
      if (!allowed.includes(name)) {
        if (!unknown.includes(name)) unknown.push(name);
        continue;
      }
      if (!params.has(name)) params.set(name, value);
    }
  }
  if (unknown.length > 0) {
    // Name the parameters only: an unknown parameter might be a misspelt secret.
    throw new UsageError(
      `unknown KMS query parameters: ${unknown.join(', ')}`,
      `${scheme.toLowerCase()} URIs accept: ${allowed.join(', ')}`,
    );
  }
  const secrets = secretsOfUri(uri);
  for (const [name, value] of params) {
    if (isSecretName(name) && value) secrets.push(value);
  }
  return { raw: uri, scheme: scheme.toLowerCase(), host, path, params, displayUri, secrets };
}

function isSecretName(name: string): boolean {
  return /SECRET|TOKEN|CREDENTIALS|PASSWORD|KEY_ID/i.test(name);
}

export interface RoleProvider {
  role: string;
  externalId?: string;
}

/**
 * CockroachDB's ASSUME_ROLE chain: comma-separated `role[;external_id=x]`; the last role is the one
 * finally assumed, the ones before it are delegates assumed in order.
 */
export function parseRoleChain(value: string | undefined): { assume?: RoleProvider; delegates: RoleProvider[] } {
  if (!value) return { delegates: [] };
  const providers = value.split(',').map((s) => {
    const [role, ...opts] = s.split(';');
    const p: RoleProvider = { role: role.trim() };
    for (const o of opts) {
      const eq = o.indexOf('=');
      if (eq > 0 && o.slice(0, eq).trim() === 'external_id') p.externalId = o.slice(eq + 1);
    }
    if (!p.role) throw new UsageError('ASSUME_ROLE has an empty role in its chain');
    return p;
  });
  return { assume: providers[providers.length - 1], delegates: providers.slice(0, -1) };
}

/** Reads the AUTH parameter: '' and 'specified' mean specified (CockroachDB's default). */
export function authMode(u: KmsUri): 'specified' | 'implicit' {
  const auth = u.params.get('AUTH') ?? '';
  if (auth === '' || auth === 'specified') return 'specified';
  if (auth === 'implicit') return 'implicit';
  throw new UsageError(`unsupported value ${auth} for AUTH`, "AUTH is 'specified' (the default) or 'implicit'");
}
