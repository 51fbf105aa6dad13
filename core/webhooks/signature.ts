import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header every signed delivery carries: `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`. */
export const SIGNATURE_HEADER = 'Switchboard-Signature';

/** Five minutes, as Stripe and Slack use: enough for clock skew, too short to replay an old capture. */
export const DEFAULT_TOLERANCE_SEC = 300;

function hmacHex(secret: string, timestamp: number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/**
 * The header value for `body` sent at `timestamp`: one `v1` per secret, so a receiver that knows
 * any one of them verifies it (rotation: configure the new secret beside the old one, move the
 * receivers over, then drop the old one).
 */
export function signatureHeader(body: string, secrets: readonly string[], timestamp: number): string {
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${hmacHex(s, timestamp, body)}`)].join(',');
}

export type VerifyResult = { ok: true; timestamp: number } | { ok: false; reason: 'no-header' | 'malformed' | 'expired' | 'mismatch' };

/**
 * Checks a delivery as a receiver should: `body` exactly as received (the raw bytes, before any
 * JSON parsing), the `Switchboard-Signature` header, the receiver's secret(s), and how old the
 * timestamp may be. Compares in constant time.
 */
export function verifyWebhook(
  body: string | Uint8Array,
  header: string | undefined | null,
  secret: string | readonly string[],
  toleranceSec = DEFAULT_TOLERANCE_SEC,
  nowSec = Math.floor(Date.now() / 1000),
): VerifyResult {
  if (!header) return { ok: false, reason: 'no-header' };
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) signatures.push(Buffer.from(value, 'hex'));
  }
  if (timestamp === undefined || signatures.length === 0) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowSec - timestamp) > toleranceSec) return { ok: false, reason: 'expired' };
  for (const s of typeof secret === 'string' ? [secret] : secret) {
    const expected = Buffer.from(hmacHex(s, timestamp, body), 'hex');
    if (signatures.some((sig) => timingSafeEqual(sig, expected))) return { ok: true, timestamp };
  }
  return { ok: false, reason: 'mismatch' };
}
