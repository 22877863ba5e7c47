/**
 * `keys check`: proves a key service will wrap and unwrap for us right now, by wrapping a random
 * 32-byte probe (the size of a data key) and unwrapping it again. Failures are the provider's
 * KeyErrors, carrying the service's own reason (disabled, not found, permission denied, unreachable).
 */
import * as crypto from 'node:crypto';
import { KeyError } from '../errors';
import { KmsRefusedError } from './kms-error';
import type { KmsProvider } from './provider';

export interface KeyCheckResult {
  provider: string;
  keyId: string;
  /** Redacted URI. */
  uri: string;
  /** Wall time of the wrap plus the unwrap, in milliseconds. */
  latencyMs: number;
  encryptMs: number;
  decryptMs: number;
  ok: true;
}

export async function checkKey(provider: KmsProvider): Promise<KeyCheckResult> {
  const probe = crypto.randomBytes(32);
  const t0 = performance.now();
  let wrapped: Buffer;
  let t1: number;
  let back: Buffer;
  try {
    wrapped = await provider.encrypt(probe);
    t1 = performance.now();
    back = await provider.decrypt(wrapped);
  } catch (e) {
    // Say it the way every other command does when a customer-managed key says no.
    if (e instanceof KmsRefusedError) throw new KeyError(`the CMEK refused: ${e.message}`, e.hint);
    throw e;
  }
  const t2 = performance.now();
  if (back.length !== probe.length || !crypto.timingSafeEqual(back, probe)) {
    throw new KeyError(`${provider.provider} key ${provider.keyId} (${provider.displayUri}) returned a different probe on unwrap`);
  }
  const r = (n: number) => Math.round(n * 10) / 10;
  return { provider: provider.provider, keyId: provider.keyId, uri: provider.displayUri, latencyMs: r(t2 - t0), encryptMs: r(t1 - t0), decryptMs: r(t2 - t1), ok: true };
}
