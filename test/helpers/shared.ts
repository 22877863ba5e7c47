/**
 * ../shared/testdata is read in place (never copied). Tests that need it use describeShared, which
 * skips with a clear message when the folder is absent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SHARED = path.resolve(__dirname, '../../../shared');
export const TESTDATA = path.join(SHARED, 'testdata');
export const hasShared = fs.existsSync(path.join(TESTDATA, 'EXPECTED.json'));

/**
 * describe() when ../shared/testdata is present. When it is absent the block's body is not run at all
 * (it may read the vectors while collecting tests); one skipped test says why instead.
 */
export const describeShared: jest.Describe = hasShared
  ? describe
  : (((name: string) =>
      describe(name, () => {
        test.skip('skipped: ../shared/testdata is absent (it holds the CockroachDB-made vectors and collections)', () => undefined);
      })) as unknown as jest.Describe);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function expected(): any {
  return JSON.parse(fs.readFileSync(path.join(TESTDATA, 'EXPECTED.json'), 'utf8'));
}

export function testdata(...parts: string[]): string {
  return path.join(TESTDATA, ...parts);
}
