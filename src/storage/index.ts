/**
 * Opens an object store from a URI in CockroachDB's syntax: a local path, file://, nodelocal://,
 * s3://bucket/prefix?... (S3Store) or gs://bucket/prefix?... (GcsStore). The collection root is the
 * URI's path. Every message names the store by its redacted URI.
 */
import * as path from 'node:path';
import { UsageError } from '../errors';
import { redactUri } from '../redact';
import { LocalStore } from './local';
import type { ObjectStore } from './object-store';
import { S3Store } from './s3';
import { GcsStore } from './gcs';
import type { RetryBudget, RetryPolicy } from './retry';

export interface StoreOptions {
  /** Root directory that nodelocal://<node|self>/path maps under (else CRDB_CMEK_NODELOCAL_ROOT). */
  nodelocalRoot?: string;
  env?: NodeJS.ProcessEnv;
  /** Retry policy of object stores (attempts, backoff, per-request timeout). */
  retryPolicy?: Partial<RetryPolicy>;
  /** Retries allowed across the store's requests, or a budget shared with other stores. */
  retryBudget?: RetryBudget | number;
  /** Keys per listing page (S3 and GCS). */
  pageSize?: number;
}

export { LocalStore } from './local';
export { S3Store } from './s3';
export { GcsStore } from './gcs';
export { downloadPrefix, type DownloadStats } from './download';
export type { ObjectInfo, ObjectStore } from './object-store';

export async function openStore(uri: string, opts: StoreOptions = {}): Promise<ObjectStore> {
  const env = opts.env ?? process.env;
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri);
  if (!m) {
    if (uri === '') throw new UsageError('empty storage URI');
    return new LocalStore(uri);
  }
  const scheme = m[1].toLowerCase();
  switch (scheme) {
    case 'file': {
      const u = new URL(uri);
      if (u.host && u.host !== 'localhost') throw new UsageError(`file:// URI must not name a host: ${redactUri(uri)}`);
      return new LocalStore(decodeURIComponent(u.pathname));
    }
    case 'nodelocal': {
      const u = new URL(uri);
      const root = opts.nodelocalRoot ?? env.CRDB_CMEK_NODELOCAL_ROOT;
      if (!root) {
        throw new UsageError(
          `${redactUri(uri)} is a nodelocal:// URI: say where node-local storage lives`,
          'pass --nodelocal-root DIR (the node\'s external-io directory) or set CRDB_CMEK_NODELOCAL_ROOT',
        );
      }
      if (!/^(self|\d+)$/.test(u.host)) throw new UsageError(`nodelocal:// needs a node ID or "self": ${redactUri(uri)}`);
      return new LocalStore(path.join(root, decodeURIComponent(u.pathname)));
    }
    case 's3':
      return new S3Store(uri, { env, policy: opts.retryPolicy, budget: opts.retryBudget, pageSize: opts.pageSize });
    case 'gs':
      return GcsStore.open(uri, { env, policy: opts.retryPolicy, budget: opts.retryBudget, pageSize: opts.pageSize });
    default:
      throw new UsageError(`unsupported storage scheme "${scheme}://" (use a path, file://, nodelocal://, s3:// or gs://)`);
  }
}
