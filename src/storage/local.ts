/**
 * Local object store: a directory tree seen as objects (keys relative to the root). Writes go to a
 * temporary sibling and are renamed into place, so a reader sees a whole object or none.
 */
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError } from '../errors';
import { joinKey, type ObjectInfo, type ObjectStore } from './object-store';

const TMP_MARK = '.crdb-cmek-tmp-';

export class LocalStore implements ObjectStore {
  readonly displayUri: string;

  constructor(readonly root: string) {
    this.root = path.resolve(root);
    this.displayUri = this.root;
  }

  private pathOf(key: string): string {
    const p = path.join(this.root, ...joinKey(key).split('/'));
    if (p !== this.root && !p.startsWith(this.root + path.sep)) {
      throw new StorageError(`object key escapes the store root: ${key}`);
    }
    return p;
  }

  private fail(e: unknown, key: string, op: string): never {
    const err = e as NodeJS.ErrnoException;
    const where = key ? `${this.displayUri}/${key}` : this.displayUri;
    if (err.code === 'ENOENT') throw new StorageError(`not found: ${where}`, 'ENOENT');
    if (err.code === 'EACCES' || err.code === 'EPERM') throw new StorageError(`permission denied: ${op} ${where}`, err.code);
    if (err.code === 'EISDIR') throw new StorageError(`not an object (a directory): ${where}`, err.code);
    if (err instanceof StorageError) throw err;
    throw new StorageError(`${op} ${where}: ${err.message}`, err.code);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const out: ObjectInfo[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        this.fail(e, rel, 'list');
      }
      for (const ent of entries) {
        if (ent.name.includes(TMP_MARK)) continue;
        const k = rel ? `${rel}/${ent.name}` : ent.name;
        const full = path.join(dir, ent.name);
        if (ent.isDirectory()) await walk(full, k);
        else if (ent.isFile() && k.startsWith(prefix)) out.push({ key: k, size: (await fsp.stat(full)).size });
      }
    };
    // Start at the deepest directory the prefix names, to avoid walking the whole tree.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    await walk(this.pathOf(dirKey), dirKey);
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* out;
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await fsp.stat(this.pathOf(key));
      return st.isFile() ? { key, size: st.size } : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      this.fail(e, key, 'stat');
    }
  }

  async read(key: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.pathOf(key));
    } catch (e) {
      this.fail(e, key, 'read');
    }
  }

  async readRange(key: string, start: number, end: number): Promise<Buffer> {
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(this.pathOf(key), 'r');
      const len = Math.max(0, end - start);
      const buf = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === len ? buf : buf.subarray(0, got);
    } catch (e) {
      return this.fail(e, key, 'read');
    } finally {
      await fh?.close();
    }
  }

  async createReadStream(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const p = this.pathOf(key);
    try {
      await fsp.access(p);
    } catch (e) {
      this.fail(e, key, 'read');
    }
    if (range && range.end <= range.start) return Readable.from([]);
    return createReadStream(p, range ? { start: range.start, end: range.end - 1, highWaterMark: 1 << 20 } : { highWaterMark: 1 << 20 });
  }

  async write(key: string, data: Buffer | Readable): Promise<void> {
    const p = this.pathOf(key);
    const tmp = `${p}${TMP_MARK}${randomBytes(6).toString('hex')}`;
    try {
      await fsp.mkdir(path.dirname(p), { recursive: true });
      if (Buffer.isBuffer(data)) await fsp.writeFile(tmp, data);
      else await pipeline(data, createWriteStream(tmp));
      await fsp.rename(tmp, p);
    } catch (e) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      this.fail(e, key, 'write');
    }
  }

  async sweepInterrupted(): Promise<number> {
    let removed = 0;
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        this.fail(e, path.relative(this.root, dir), 'list');
      }
      for (const ent of entries) {
        const full = path.join(dir, ent.name);
        if (ent.isDirectory()) await walk(full);
        else if (ent.isFile() && ent.name.includes(TMP_MARK)) {
          await fsp.rm(full, { force: true });
          removed++;
        }
      }
    };
    await walk(this.root);
    return removed;
  }

  async delete(key: string): Promise<void> {
    try {
      await fsp.rm(this.pathOf(key), { force: true });
    } catch (e) {
      this.fail(e, key, 'delete');
    }
  }
}
