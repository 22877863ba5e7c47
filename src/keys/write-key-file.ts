/**
 * Writes secret material (keys, ENCRYPTION-INFO-adjacent files) with mode 0600, atomically: a temporary
 * file in the same directory is written, fsynced and renamed into place. Without `force` an existing
 * file is never replaced (the final step is link(2), which fails with EEXIST, instead of rename(2)).
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors';

export interface WriteSecretOptions {
  /** Replace an existing file. */
  force?: boolean;
}

export async function writeSecretFile(file: string, data: Buffer, opts: WriteSecretOptions = {}): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (e) {
    throw new UsageError(`cannot create ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    try {
      await fh.chmod(0o600); // the umask cannot widen it, but be explicit
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.force) {
      await fs.rename(tmp, file);
    } else {
      try {
        await fs.link(tmp, file);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP') {
          // No hard links on this filesystem: exclusive create of the target itself.
          await fs.unlink(tmp).catch(() => undefined);
          await writeExclusive(file, data);
          return;
        }
        if (code === 'EEXIST') {
          throw new UsageError(`${file} already exists; refusing to overwrite it`, 'pass --force to replace it');
        }
        throw new UsageError(`cannot create ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      await fs.unlink(tmp);
    }
  } catch (e) {
    await fs.unlink(tmp).catch(() => undefined);
    throw e;
  }
}

async function writeExclusive(file: string, data: Buffer): Promise<void> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError(`${file} already exists; refusing to overwrite it`, 'pass --force to replace it');
    }
    throw new UsageError(`cannot create ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.unlink(file).catch(() => undefined);
    throw e;
  }
}
