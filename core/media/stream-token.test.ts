import { describe, expect, it } from 'vitest';
import { TokenAuthority } from './stream-token.ts';

const SECRET = 'stream-token-test-secret-0123456789';

function authority(start = 1_700_000_000_000): { tokens: TokenAuthority; clock: { now: number } } {
  const clock = { now: start };
  return { tokens: new TokenAuthority({ secret: SECRET, ttlMs: 30_000, now: () => clock.now }), clock };
}

describe('TokenAuthority', () => {
  it('issues URL-safe tokens without whitespace that pass once for their call', () => {
    const { tokens } = authority();
    const { token, expiresAt } = tokens.issue('743f904d-68ee-40df-b9fe-4dca62426a13');
    expect(token).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}$/);
    expect(encodeURIComponent(token)).toBe(token);
    expect(tokens.consume('743f904d-68ee-40df-b9fe-4dca62426a13', token)).toEqual({ ok: true, expiresAt });
  });

  it.each([
    ['missing', undefined, 401],
    ['empty', '', 401],
    ['not a token', 'abc', 401],
    ['bad characters', 'zz.!!!!!!!!!!!!!!!!.' + 'a'.repeat(43), 401],
  ] as const)('refuses a %s token with 401', (_name, token, status) => {
    const { tokens } = authority();
    expect(tokens.consume('call-1', token)).toMatchObject({ ok: false, status });
  });

  it('refuses a token on another call, a tampered one, an expired one and a replay with 403', () => {
    const { tokens, clock } = authority();
    const a = tokens.issue('call-a').token;
    expect(tokens.consume('call-b', a)).toEqual({ ok: false, status: 403, reason: 'bad-signature' });

    const [exp, nonce, mac] = a.split('.') as [string, string, string];
    const later = (parseInt(exp, 36) + 60_000).toString(36);
    expect(tokens.consume('call-a', `${later}.${nonce}.${mac}`)).toEqual({ ok: false, status: 403, reason: 'bad-signature' });
    // Every other spelling of the last character, including those that decode to the same bytes.
    for (const last of 'AaBb') {
      if (mac.endsWith(last)) continue;
      expect(tokens.consume('call-a', `${exp}.${nonce}.${mac.slice(0, -1)}${last}`)).toEqual({ ok: false, status: 403, reason: 'bad-signature' });
    }
    const flipped = mac.slice(0, 10) + (mac[10] === 'x' ? 'y' : 'x') + mac.slice(11);
    expect(tokens.consume('call-a', `${exp}.${nonce}.${flipped}`)).toEqual({ ok: false, status: 403, reason: 'bad-signature' });

    expect(tokens.consume('call-a', a)).toMatchObject({ ok: true });
    expect(tokens.consume('call-a', a)).toEqual({ ok: false, status: 403, reason: 'replayed' });

    const b = tokens.issue('call-a').token;
    clock.now += 30_000;
    expect(tokens.consume('call-a', b)).toEqual({ ok: false, status: 403, reason: 'expired' });
  });

  it('a token signed with another secret is refused', () => {
    const other = new TokenAuthority({ secret: 'another-secret-0123456789abcdef', ttlMs: 30_000 });
    const { tokens } = authority(Date.now());
    expect(tokens.consume('call-a', other.issue('call-a').token)).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('forgets used tokens once they have expired', () => {
    const { tokens, clock } = authority();
    for (let i = 0; i < 100; i++) expect(tokens.consume(`c${i}`, tokens.issue(`c${i}`).token).ok).toBe(true);
    expect(tokens.remembered).toBe(100);
    clock.now += 31_000;
    tokens.consume('c-new', tokens.issue('c-new').token);
    expect(tokens.remembered).toBe(1);
  });

  it('refuses a secret shorter than 16 bytes', () => {
    expect(() => new TokenAuthority({ secret: 'short', ttlMs: 1000 })).toThrow(expect.objectContaining({ code: 'SB_CONFIG_INVALID' }));
  });
});
