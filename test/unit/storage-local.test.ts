import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StorageError, UsageError } from '../../src/errors';
import { openStore } from '../../src/storage';
import { LocalStore } from '../../src/storage/local';
import { collect, storeContract } from './storage-contract';

let dir: string;
let store: LocalStore;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-local-'));
  store = new LocalStore(dir);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

storeContract('local', { store: () => store, paginationCount: 50 });

describe('local store specifics', () => {
  test('keys cannot escape the root', async () => {
    await expect(store.read('../outside')).rejects.toBeInstanceOf(StorageError);
  });

  test('temporary files of an in-flight write are not listed', async () => {
    fs.mkdirSync(path.join(dir, 'tmpvis'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'tmpvis', 'x.crdb-cmek-tmp-abc'), 'partial');
    await store.write('tmpvis/real', Buffer.from('r'));
    expect((await collect(store.list('tmpvis/'))).map((o) => o.key)).toEqual(['tmpvis/real']);
  });

  test('sweepInterrupted removes the temporary files of killed writes and nothing else', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-sweep-'));
    const s = new LocalStore(root);
    await s.write('a/b/keep.sst', Buffer.from('k'));
    fs.writeFileSync(path.join(root, 'a', 'b', 'half.sst.crdb-cmek-tmp-0123abcd'), 'partial');
    fs.writeFileSync(path.join(root, 'top.crdb-cmek-tmp-ffff'), 'partial');
    expect(await s.sweepInterrupted()).toBe(2);
    expect(fs.readdirSync(path.join(root, 'a', 'b'))).toEqual(['keep.sst']);
    expect(fs.readdirSync(root).sort()).toEqual(['a']);
    expect(await s.sweepInterrupted()).toBe(0);
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('openStore: path, file://, nodelocal:// with a root, and errors', async () => {
    await store.write('o/k', Buffer.from('v'));
    expect((await (await openStore(dir)).read('o/k')).toString()).toBe('v');
    expect((await (await openStore(`file://${dir}`)).read('o/k')).toString()).toBe('v');
    const nl = await openStore('nodelocal://self/o', { nodelocalRoot: dir });
    expect((await nl.read('k')).toString()).toBe('v');
    const nl1 = await openStore('nodelocal://1/o', { env: { CRDB_CMEK_NODELOCAL_ROOT: dir } });
    expect((await nl1.read('k')).toString()).toBe('v');
    await expect(openStore('nodelocal://self/o', { env: {} })).rejects.toBeInstanceOf(UsageError);
    await expect(openStore('nodelocal://node/o', { nodelocalRoot: dir })).rejects.toBeInstanceOf(UsageError);
    await expect(openStore('azure-blob://c/p?AZURE_ACCOUNT_KEY=sekrit')).rejects.toBeInstanceOf(UsageError);
    await expect(openStore('')).rejects.toBeInstanceOf(UsageError);
  });

  test('a permission failure is a StorageError (exit 4)', async () => {
    if (process.getuid?.() === 0) {
      // root ignores file modes; check the not-a-file case instead.
      await expect(store.read('o')).rejects.toMatchObject({ exitCode: 4 });
      return;
    }
    fs.mkdirSync(path.join(dir, 'locked'));
    fs.writeFileSync(path.join(dir, 'locked', 'f'), 'x');
    fs.chmodSync(path.join(dir, 'locked', 'f'), 0o000);
    await expect(store.read('locked/f')).rejects.toMatchObject({ exitCode: 4 });
    fs.chmodSync(path.join(dir, 'locked', 'f'), 0o600);
  });
});
