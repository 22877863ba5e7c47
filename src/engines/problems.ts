/** Problems found in a backup, with the stable kinds of spec/cli.md. */
export type ProblemKind =
  | 'missing'
  | 'authentication-failed'
  | 'truncated'
  | 'not-encrypted'
  | 'checksum-mismatch'
  | 'sst-corrupt'
  | 'unreferenced'
  | 'unsupported-version'
  | 'manifest-unreadable'
  | 'incomplete'
  | 'secret-exposed'
  | 'readable-without-key'
  | 'cmek-not-revoked'
  /** audit --cmek: a way into the data that does not go through the CMEK (salt, native KMS entry, store key wrapped by another key). */
  | 'cmek-bypass';

export type Severity = 'error' | 'warning';

export interface Problem {
  /** Path relative to the collection root. */
  path: string;
  kind: ProblemKind;
  severity: Severity;
  /** A specific, secret-free explanation. */
  detail: string;
}

export function problem(path: string, kind: ProblemKind, detail: string, severity: Severity = 'error'): Problem {
  return { path, kind, severity, detail };
}

/** Stable order for reports: by path, then kind. */
export function sortProblems(ps: Problem[]): Problem[] {
  return [...ps].sort((a, b) => (a.path === b.path ? a.kind.localeCompare(b.kind) : a.path < b.path ? -1 : 1));
}
