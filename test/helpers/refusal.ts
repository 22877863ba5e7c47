/** Awaits a promise that must reject with a KeyError (exit 3) whose message holds none of `secrets`. */
import { KeyError } from '../../src/errors';

export async function expectKeyError(p: Promise<unknown>, secrets: string[] = []): Promise<KeyError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KeyError);
    for (const s of secrets) expect((e as Error).message).not.toContain(s);
    return e as KeyError;
  }
  throw new Error('expected a KeyError');
}
