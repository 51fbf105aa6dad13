import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { sbError } from '../errors.ts';

export interface ApiKey {
  name: string;
  /** sha256 of the key, hex. Keys are never stored in clear. */
  sha256: string;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new random key and the line that configures it (`name:sha256:<hex>`). */
export function newApiKey(name: string): { key: string; entry: string } {
  const key = `sb_${randomBytes(24).toString('base64url')}`;
  return { key, entry: `${name}:sha256:${hashApiKey(key)}` };
}

/**
 * API keys from SB_API_KEYS (`name:sha256:<hex>` entries separated by commas) and/or
 * SB_API_KEYS_FILE (one entry a line, `#` comments).
 */
export function loadApiKeys(env: Record<string, string | undefined>): ApiKey[] {
  const entries = (env.SB_API_KEYS ?? '').split(',');
  const file = env.SB_API_KEYS_FILE;
  if (file) {
    if (!existsSync(file)) throw sbError('SB_CONFIG_INVALID', `SB_API_KEYS_FILE ${file} does not exist`);
    entries.push(...readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/#.*/, '')));
  }
  const keys: ApiKey[] = [];
  for (const raw of entries.map((e) => e.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_.-]{1,64}):sha256:([0-9a-f]{64})$/.exec(raw);
    if (!m) throw sbError('SB_CONFIG_INVALID', `API key entry "${raw.slice(0, 20)}…" is not name:sha256:<64 hex> (make one with: switchboard api-key <name>)`);
    keys.push({ name: m[1] as string, sha256: m[2] as string });
  }
  return keys;
}

/** The name of the key a bearer token is, or undefined. Constant time per configured key. */
export function verifyApiKey(keys: readonly ApiKey[], token: string): string | undefined {
  const digest = Buffer.from(hashApiKey(token), 'hex');
  let found: string | undefined;
  for (const k of keys) if (timingSafeEqual(digest, Buffer.from(k.sha256, 'hex'))) found = k.name;
  return found;
}
