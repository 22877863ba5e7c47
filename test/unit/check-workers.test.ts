/** Errors cross the worker boundary with their class and exit code intact. */
import { reviveError, serializeError, autoWorkers, AUTO_WORKERS_MIN_BYTES } from '../../src/engines/check-workers';
import { ExitCode, IntegrityError, KeyError, StorageError, UsageError } from '../../src/errors';

test.each([
  [new StorageError('not found: s3://b/k', 'NoSuchKey', 'check the bucket'), StorageError, ExitCode.storage],
  [new KeyError('the CMEK refused: DisabledException'), KeyError, ExitCode.key],
  [new UsageError('bad'), UsageError, ExitCode.usage],
  [new IntegrityError('damaged'), IntegrityError, ExitCode.problems],
])('%s survives serialization', (err, cls, code) => {
  const back = reviveError(JSON.parse(JSON.stringify(serializeError(err))));
  expect(back).toBeInstanceOf(cls);
  expect((back as StorageError).exitCode).toBe(code);
  expect(back.message).toBe(err.message);
  if (err instanceof StorageError) expect((back as StorageError).reason).toBe('NoSuchKey');
});

test('an unexpected error keeps its name and message', () => {
  const back = reviveError(serializeError(new TypeError('boom')));
  expect(back.name).toBe('TypeError');
  expect(back.message).toBe('boom');
});

test('auto: workers only for large selections on machines with four or more cores', () => {
  expect(autoWorkers(AUTO_WORKERS_MIN_BYTES - 1, 16)).toBe(0);
  expect(autoWorkers(AUTO_WORKERS_MIN_BYTES, 2)).toBe(0);
  expect(autoWorkers(AUTO_WORKERS_MIN_BYTES, 4)).toBe(4);
  expect(autoWorkers(10 * AUTO_WORKERS_MIN_BYTES, 64)).toBe(8);
});
