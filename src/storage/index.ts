/**
 * Opens an object store from a URI in CockroachDB's syntax: a local path, file://, nodelocal://,
 * (s3://, gs:// are added by their own modules). The collection root is the URI's path.
 */
import * as path from 'node:path';
import { UsageError } from '../errors';
import { LocalStore } from './local';
import type { ObjectStore } from './object-store';

export interface StoreOptions {
  /** Root directory that nodelocal://<node|self>/path maps under (else CRDB_CMEK_NODELOCAL_ROOT). */
  nodelocalRoot?: string;
  env?: NodeJS.ProcessEnv;
}

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
      if (u.host && u.host !== 'localhost') throw new UsageError(`file:// URI must not name a host: ${uri}`);
      return new LocalStore(decodeURIComponent(u.pathname));
    }
    case 'nodelocal': {
      const u = new URL(uri);
      const root = opts.nodelocalRoot ?? env.CRDB_CMEK_NODELOCAL_ROOT;
      if (!root) {
        throw new UsageError(
          `${uri} is a nodelocal:// URI: say where node-local storage lives`,
          'pass --nodelocal-root DIR (the node\'s external-io directory) or set CRDB_CMEK_NODELOCAL_ROOT',
        );
      }
      if (!/^(self|\d+)$/.test(u.host)) throw new UsageError(`nodelocal:// needs a node ID or "self": ${uri}`);
      return new LocalStore(path.join(root, decodeURIComponent(u.pathname)));
    }
    default:
      throw new UsageError(`unsupported storage scheme "${scheme}://" (use a path, file://, nodelocal://, s3:// or gs://)`);
  }
}
