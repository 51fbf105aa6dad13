// JWT bearer tokens beside API keys: HS256 with a secret, RS256 with a PEM public key or a JWKS
// file; issuer, audience, expiry (with clock tolerance) and scopes enforced, each failure a
// coded 401 or 403.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig } from '../../test/support/api-rig.ts';
import { loadConfig } from '../config.ts';
import { JwtVerifier, allows, requiredScope } from './jwt-auth.ts';

const SECRET = 'a-shared-secret-of-at-least-32-bytes!!';
const ISSUER = 'https://id.example.com/';
const AUDIENCE = 'switchboard';
const JWT_ENV = { SB_JWT_ISSUER: ISSUER, SB_JWT_AUDIENCE: AUDIENCE, SB_JWT_CLOCK_TOLERANCE_SEC: '30' };
const now = (): number => Math.floor(Date.now() / 1000);

let dir: string;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

interface Claims {
  scope?: string;
  scp?: string[];
  iss?: string;
  aud?: string;
  exp?: number;
}

async function token(claims: Claims, key: Uint8Array | KeyObject = new TextEncoder().encode(SECRET), header: { alg: string; kid?: string } = { alg: 'HS256' }): Promise<string> {
  const { iss = ISSUER, aud = AUDIENCE, exp = now() + 300, ...rest } = claims;
  return new SignJWT({ ...rest }).setProtectedHeader(header).setSubject('app-1').setIssuer(iss).setAudience(aud).setIssuedAt().setExpirationTime(exp).sign(key);
}

const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' });
const CALL = '0d9b6a5e-4f7e-4bde-9a55-3d1c2f1e7a10';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-jwt-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('HS256 (SB_JWT_SECRET)', () => {
  let rig: ApiRig;
  beforeAll(async () => {
    rig = await startApiRig({ redis: false, env: { SB_JWT_SECRET: SECRET, ...JWT_ENV } });
  }, 30_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('a valid token with the scope reads; API keys keep working beside tokens', async () => {
    expect((await rig.get('/v1/calls', bearer(await token({ scope: 'calls:read' })))).status).toBe(200);
    expect((await rig.get('/v1/flows', bearer(await token({ scp: ['flows:read'] })))).status).toBe(200);
    expect((await rig.get('/v1/calls')).status).toBe(200);
  });

  it.each([
    ['calls:read', 'POST', `/v1/calls/${CALL}/hangup`, 403],
    ['calls:write', 'POST', `/v1/calls/${CALL}/hangup`, 404],
    ['calls:write', 'GET', '/v1/calls', 200],
    ['flows:read', 'GET', '/v1/calls', 403],
    ['rooms:read flows:write', 'POST', '/v1/flows/validate', 200],
    ['switchboard:admin', 'POST', `/v1/calls/${CALL}/answer`, 404],
    ['', 'GET', '/v1/rooms', 403],
  ])('scope "%s" → %s %s: %i', async (scope, method, path, status) => {
    const headers = bearer(await token({ scope }));
    const r = method === 'GET' ? await rig.get(path, headers) : await rig.post(path, path.endsWith('validate') ? { yaml: 'name: x\nsteps: [hangup]\n' } : {}, headers);
    expect(r.status).toBe(status);
    if (status === 403) expect(await r.json()).toMatchObject({ code: 'SB_API_FORBIDDEN', message: expect.stringContaining(requiredScope(method, path.replace(CALL, ':id'))) });
  });

  it('expired: 401 SB_API_TOKEN_EXPIRED; within the clock tolerance it still passes', async () => {
    const late = await rig.get('/v1/calls', bearer(await token({ scope: 'calls:read', exp: now() - 120 })));
    expect(late.status).toBe(401);
    expect(await late.json()).toMatchObject({ code: 'SB_API_TOKEN_EXPIRED' });
    expect((await rig.get('/v1/calls', bearer(await token({ scope: 'calls:read', exp: now() - 10 })))).status).toBe(200);
  });

  it.each([
    ['another issuer', (): Promise<string> => token({ scope: 'calls:read', iss: 'https://evil.example.com/' }), 'iss'],
    ['another audience', (): Promise<string> => token({ scope: 'calls:read', aud: 'billing' }), 'aud'],
    ['another secret', (): Promise<string> => token({ scope: 'calls:read' }, new TextEncoder().encode('x'.repeat(40))), 'signature'],
    ['RS256 where HS256 is configured', (): Promise<string> => token({ scope: 'calls:read' }, rsa.privateKey, { alg: 'RS256' }), 'algorithm'],
    ['a tampered payload', async (): Promise<string> => {
      const [h, , s] = (await token({ scope: 'calls:read' })).split('.');
      return `${h}.${Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, scope: 'switchboard:admin', exp: now() + 300 })).toString('base64url')}.${s}`;
    }, 'signature'],
  ])('%s: 401 SB_API_UNAUTHORIZED saying why', async (_label, make, why) => {
    const r = await rig.get('/v1/calls', bearer(await make()));
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const body = (await r.json()) as { code: string; message: string };
    expect(body.code).toBe('SB_API_UNAUTHORIZED');
    expect(body.message).toContain(why);
  });

  it('no token: 401 naming both kinds of credential', async () => {
    const r = await rig.get('/v1/calls', {});
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ code: 'SB_API_UNAUTHORIZED', message: expect.stringContaining('API key or token') });
  });
});

describe('RS256', () => {
  let pemRig: ApiRig;
  let jwksRig: ApiRig;
  beforeAll(async () => {
    const pem = join(dir, 'public.pem');
    writeFileSync(pem, rsa.publicKey.export({ type: 'spki', format: 'pem' }));
    const jwks = join(dir, 'jwks.json');
    writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(rsa.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] }));
    pemRig = await startApiRig({ redis: false, env: { SB_JWT_PUBLIC_KEY_FILE: pem, ...JWT_ENV } });
    jwksRig = await startApiRig({ redis: false, env: { SB_JWT_JWKS_FILE: jwks, ...JWT_ENV } });
  }, 30_000);
  afterAll(async () => {
    await pemRig?.close();
    await jwksRig?.close();
  });

  it('a PEM public key: its private key\'s tokens pass, another key\'s do not', async () => {
    expect((await pemRig.get('/v1/calls', bearer(await token({ scope: 'calls:read' }, rsa.privateKey, { alg: 'RS256' })))).status).toBe(200);
    const forged = await pemRig.get('/v1/calls', bearer(await token({ scope: 'calls:read' }, otherRsa.privateKey, { alg: 'RS256' })));
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ code: 'SB_API_UNAUTHORIZED' });
  });

  it('a JWKS file: the key is chosen by kid; an unknown kid is 401', async () => {
    expect((await jwksRig.get('/v1/calls', bearer(await token({ scope: 'calls:read' }, rsa.privateKey, { alg: 'RS256', kid: 'k1' })))).status).toBe(200);
    const unknown = await jwksRig.get('/v1/calls', bearer(await token({ scope: 'calls:read' }, rsa.privateKey, { alg: 'RS256', kid: 'k9' })));
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ code: 'SB_API_UNAUTHORIZED', message: expect.stringContaining('kid') });
  });
});

describe('JWT settings', () => {
  it.each([
    ['no issuer', { SB_JWT_SECRET: SECRET, SB_JWT_AUDIENCE: AUDIENCE }],
    ['no audience', { SB_JWT_SECRET: SECRET, SB_JWT_ISSUER: ISSUER }],
    ['two key sources', { SB_JWT_SECRET: SECRET, SB_JWT_JWKS_FILE: '/etc/hostname', ...JWT_ENV }],
    ['a short secret', { SB_JWT_SECRET: 'short', ...JWT_ENV }],
    ['a missing key file', { SB_JWT_PUBLIC_KEY_FILE: '/nonexistent.pem', ...JWT_ENV }],
  ])('%s is refused at start (SB_CONFIG_INVALID)', (_label, env) => {
    expect(() => loadConfig(env)).toThrow(expect.objectContaining({ code: 'SB_CONFIG_INVALID' }));
  });

  it('a file that is not a PEM key is refused when the verifier is built (service start)', () => {
    const bad = join(dir, 'bad.pem');
    writeFileSync(bad, 'not a key');
    const config = loadConfig({ SB_JWT_PUBLIC_KEY_FILE: bad, ...JWT_ENV }).jwt!;
    expect(() => new JwtVerifier(config)).toThrow(expect.objectContaining({ code: 'SB_CONFIG_INVALID' }));
  });

  it('scopes: <resource>:read for GET, :write otherwise; write includes read', () => {
    expect(requiredScope('GET', '/v1/rooms/:name')).toBe('rooms:read');
    expect(requiredScope('POST', '/v1/batches/:id/pause')).toBe('batches:write');
    expect(allows(new Set(['rooms:write']), 'rooms:read')).toBe(true);
    expect(allows(new Set(['rooms:read']), 'rooms:write')).toBe(false);
    expect(allows(new Set(['calls:write']), 'rooms:read')).toBe(false);
  });
});
