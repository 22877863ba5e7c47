import type { Readable } from 'node:stream';

/** One object in a store. Keys are relative to the store's root, '/'-separated, no leading '/'. */
export interface ObjectInfo {
  key: string;
  size: number;
}

/**
 * An object store (local files, S3, GCS). Designed for object stores: no directories, no rename.
 * Every implementation lives in its own file and throws StorageError (exit 4) for not-found,
 * access-denied and unreachable, naming the object and the service's reason (never a secret).
 */
export interface ObjectStore {
  /** Redacted, printable form of the store's root URI. */
  readonly displayUri: string;
  /** Every object whose key starts with prefix (recursive), in lexicographic key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Size of one object, or undefined when it does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** A whole (small) object. */
  read(key: string): Promise<Buffer>;
  /** Bytes [start, end) of an object. */
  readRange(key: string, start: number, end: number): Promise<Buffer>;
  /** A stream of the object (or bytes [start, end) of it). */
  createReadStream(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Writes an object atomically: readers see all of it or nothing. Accepts a Buffer or a stream. */
  write(key: string, data: Buffer | Readable): Promise<void>;
  /** Deletes one object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Releases connections / servers. */
  close?(): Promise<void>;
  /**
   * Removes what interrupted writes of this tool left behind (e.g. a local store's temporary files from a
   * killed process); returns how many were removed. Called by --resume before it writes. Stores whose
   * writes leave nothing visible (S3 multipart, GCS resumable uploads) need not implement it.
   */
  sweepInterrupted?(): Promise<number>;
}

/** Joins key segments with '/', dropping empty segments and stray slashes. */
export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((s) => s.length > 0)
    .join('/');
}

/**
 * A view of a store that forwards every read to it and lets the caller replace how writes and deletes
 * behave (a read-only source, a test hook that pauses after writes).
 */
export function storeView(s: ObjectStore, writes: Pick<ObjectStore, 'write' | 'delete'>): ObjectStore {
  return {
    displayUri: s.displayUri,
    list: (p) => s.list(p),
    stat: (k) => s.stat(k),
    read: (k) => s.read(k),
    readRange: (k, a, b) => s.readRange(k, a, b),
    createReadStream: (k, r) => s.createReadStream(k, r),
    write: writes.write,
    delete: writes.delete,
  };
}
