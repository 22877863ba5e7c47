/**
 * Credentials in URIs never reach output. CockroachDB redacts the secret-bearing query parameters of
 * external-storage and KMS URIs; we do the same, and also any user:password in the authority.
 */
const SECRET_PARAMS = new Set([
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_ACCESS_KEY_ID',
  'CREDENTIALS',
  'BEARER_TOKEN',
  'AZURE_ACCOUNT_KEY',
  'AZURE_CLIENT_SECRET',
  'VAULT_TOKEN',
  'TOKEN',
  'PASSPHRASE',
]);

export const REDACTED = 'redacted';

export function isSecretParam(name: string): boolean {
  return SECRET_PARAMS.has(name.toUpperCase());
}

/** Returns the URI with every secret parameter value (and userinfo) replaced by "redacted". */
export function redactUri(uri: string): string {
  const q = uri.indexOf('?');
  let head = q < 0 ? uri : uri.slice(0, q);
  head = head.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@?]*@/i, `$1${REDACTED}@`);
  if (q < 0) return head;
  const parts = uri
    .slice(q + 1)
    .split('&')
    .map((kv) => {
      const eq = kv.indexOf('=');
      const name = decodeURIComponentSafe(eq < 0 ? kv : kv.slice(0, eq));
      return isSecretParam(name) && eq >= 0 ? `${kv.slice(0, eq)}=${REDACTED}` : kv;
    });
  return `${head}?${parts.join('&')}`;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Removes every known secret string from a free-form message (e.g. an SDK error that echoed a URL).
 * Secrets shorter than 4 characters are not scrubbed (they would mangle ordinary text).
 */
export function scrub(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join(REDACTED);
  }
  return out;
}

/** Collects the secret values carried by a URI, so messages derived from it can be scrubbed. */
export function secretsOfUri(uri: string): string[] {
  const out: string[] = [];
  const q = uri.indexOf('?');
  if (q >= 0) {
    for (const kv of uri.slice(q + 1).split('&')) {
      const eq = kv.indexOf('=');
      if (eq < 0) continue;
      const name = decodeURIComponentSafe(kv.slice(0, eq));
      if (isSecretParam(name)) {
        const raw = kv.slice(eq + 1);
        out.push(raw, decodeURIComponentSafe(raw));
      }
    }
  }
  return out;
}
