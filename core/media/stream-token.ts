import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { SwitchboardError } from '../errors.ts';

/**
 * Short-lived, single-use tokens that let one mod_audio_stream connection in for one call.
 *
 * Format: `<expiresAt base36>.<nonce base64url, 16 chars>.<mac base64url, 43 chars>`, where
 * mac = HMAC-SHA256(secret, `sb-media-v1\n<callId>\n<expiresAt>\n<nonce>`). Every character is
 * URL-safe and whitespace-free, so the token can sit in `?token=` or in a STREAM_EXTRA_HEADERS
 * JSON value, and passes the ESL argument checks unchanged.
 *
 * The call id is not in the token: it comes from the URL path and is bound by the MAC, so a token
 * issued for one call fails on another's path. Replays are refused by remembering used nonces
 * until their expiry (memory ∝ tokens issued per TTL).
 */
export type TokenVerdict =
  | { ok: true; expiresAt: number }
  | { ok: false; status: 401 | 403; reason: TokenRefusal };

export type TokenRefusal = 'missing' | 'malformed' | 'bad-signature' | 'expired' | 'replayed';

const TOKEN_RE = /^([0-9a-z]{1,11})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;
const PRUNE_EVERY_MS = 1_000;

export interface TokenAuthorityOptions {
  secret: Buffer | string;
  ttlMs: number;
  /** Clock, for tests. */
  now?: () => number;
}

export class TokenAuthority {
  private readonly key: Buffer;
  private readonly ttlMs: number;
  private readonly now: () => number;
  /** nonce → expiresAt, for tokens already used. */
  private readonly used = new Map<string, number>();
  private lastPrune = 0;

  constructor(options: TokenAuthorityOptions) {
    this.key = typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : Buffer.from(options.secret);
    if (this.key.length < 16) throw new SwitchboardError('SB_CONFIG_INVALID', ['the media token secret must be at least 16 bytes']);
    if (!Number.isFinite(options.ttlMs) || options.ttlMs <= 0) throw new SwitchboardError('SB_CONFIG_INVALID', ['the media token TTL must be a positive number of ms']);
    this.ttlMs = options.ttlMs;
    this.now = options.now ?? Date.now;
  }

  issue(callId: string, ttlMs = this.ttlMs): { token: string; expiresAt: number } {
    const expiresAt = Math.ceil(this.now() + ttlMs);
    const nonce = randomBytes(12).toString('base64url');
    const mac = this.mac(callId, expiresAt, nonce).toString('base64url');
    return { token: `${expiresAt.toString(36)}.${nonce}.${mac}`, expiresAt };
  }

  /** Checks a token for a call and, when valid, marks it used (a second check of it fails). */
  consume(callId: string, token: string | undefined): TokenVerdict {
    if (token === undefined || token === '') return { ok: false, status: 401, reason: 'missing' };
    const m = TOKEN_RE.exec(token);
    if (!m) return { ok: false, status: 401, reason: 'malformed' };
    const [, expiryText = '', nonce = '', macText = ''] = m;
    const expiresAt = parseInt(expiryText, 36);
    // Compared as text, so only the canonical encoding passes (the last base64url character
    // carries 2 spare bits: decoding would accept four spellings of one MAC).
    const expected = Buffer.from(this.mac(callId, expiresAt, nonce).toString('base64url'));
    const given = Buffer.from(macText);
    // Signature first: an outsider learns nothing about expiry or use from the answer.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, status: 403, reason: 'bad-signature' };
    const now = this.now();
    if (expiresAt <= now) return { ok: false, status: 403, reason: 'expired' };
    this.prune(now);
    if (this.used.has(nonce)) return { ok: false, status: 403, reason: 'replayed' };
    this.used.set(nonce, expiresAt);
    return { ok: true, expiresAt };
  }

  /** Used tokens still remembered (for tests and metrics). */
  get remembered(): number {
    return this.used.size;
  }

  private mac(callId: string, expiresAt: number, nonce: string): Buffer {
    return createHmac('sha256', this.key).update(`sb-media-v1\n${callId}\n${expiresAt}\n${nonce}`).digest();
  }

  private prune(now: number): void {
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    for (const [nonce, expiresAt] of this.used) if (expiresAt <= now) this.used.delete(nonce);
  }
}
