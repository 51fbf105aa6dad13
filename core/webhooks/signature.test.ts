import { describe, expect, it } from 'vitest';
import { signatureHeader, verifyWebhook } from './signature.ts';

const SECRET = 'whsec-0123456789abcdef';
const OLD = 'whsec-old-fedcba9876543210';
const BODY = '{"id":"c-1.1.answered","type":"answered","callId":"x"}';
const NOW = 1_750_000_000;

describe('Switchboard-Signature', () => {
  it('is t=<unix>,v1=<HMAC-SHA256 hex of "<t>.<body>">, which a receiver can recompute by hand', async () => {
    const header = signatureHeader(BODY, [SECRET], NOW);
    const { createHmac } = await import('node:crypto');
    expect(header).toBe(`t=${NOW},v1=${createHmac('sha256', SECRET).update(`${NOW}.${BODY}`).digest('hex')}`);
    expect(verifyWebhook(BODY, header, SECRET, 300, NOW)).toEqual({ ok: true, timestamp: NOW });
    expect(verifyWebhook(Buffer.from(BODY), header, SECRET, 300, NOW + 299)).toMatchObject({ ok: true });
  });

  it.each([
    ['a tampered body', `${BODY} `, signatureHeader(BODY, [SECRET], NOW), SECRET, NOW, 'mismatch'],
    ['a changed field', BODY.replace('answered"', 'failed"'), signatureHeader(BODY, [SECRET], NOW), SECRET, NOW, 'mismatch'],
    ['another secret', BODY, signatureHeader(BODY, ['someone-elses-secret'], NOW), SECRET, NOW, 'mismatch'],
    ['a replayed timestamp with the same signature', BODY, signatureHeader(BODY, [SECRET], NOW).replace(`t=${NOW}`, `t=${NOW + 10}`), SECRET, NOW + 10, 'mismatch'],
    ['an old delivery', BODY, signatureHeader(BODY, [SECRET], NOW), SECRET, NOW + 301, 'expired'],
    ['no signature', BODY, `t=${NOW}`, SECRET, NOW, 'malformed'],
    ['garbage', BODY, 'hello', SECRET, NOW, 'malformed'],
    ['no header', BODY, undefined, SECRET, NOW, 'no-header'],
  ])('rejects %s', (_what, body, header, secret, now, reason) => {
    expect(verifyWebhook(body, header, secret, 300, now)).toEqual({ ok: false, reason });
  });

  it('rotation: signed with every configured secret, so receivers on the old or the new one both verify', () => {
    const header = signatureHeader(BODY, [SECRET, OLD], NOW);
    expect(header.match(/v1=/g)).toHaveLength(2);
    expect(verifyWebhook(BODY, header, OLD, 300, NOW).ok).toBe(true);
    expect(verifyWebhook(BODY, header, SECRET, 300, NOW).ok).toBe(true);
    // A receiver may hold both while it moves over.
    expect(verifyWebhook(BODY, signatureHeader(BODY, [SECRET], NOW), [OLD, SECRET], 300, NOW).ok).toBe(true);
  });
});
