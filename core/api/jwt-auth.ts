import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { JwtConfig } from '../config.ts';
import { SwitchboardError, sbError } from '../errors.ts';

/** Who a verified token is and what it may do. */
export interface TokenIdentity {
  subject: string;
  scopes: ReadonlySet<string>;
}

/**
 * Scopes, OAuth 2.0 style (RFC 8693 `scope`: space-separated; `scp`, a list, as some issuers
 * write it): `<resource>:read` for GET, `<resource>:write` for everything else, where resource
 * is the first path segment after /v1 (`calls`, `rooms`, `flows`, `batches` …). Write includes
 * read. `switchboard:admin` allows everything.
 */
export function requiredScope(method: string, routeUrl: string): string {
  const resource = /^\/v1\/([^/]+)/.exec(routeUrl)?.[1] ?? 'api';
  return `${resource}:${method === 'GET' || method === 'HEAD' ? 'read' : 'write'}`;
}

export function allows(scopes: ReadonlySet<string>, needed: string): boolean {
  if (scopes.has(needed) || scopes.has('switchboard:admin')) return true;
  return needed.endsWith(':read') && scopes.has(needed.replace(/:read$/, ':write'));
}

function scopesOf(payload: JWTPayload): Set<string> {
  const out = new Set<string>();
  for (const claim of [payload.scope, payload.scp]) {
    if (typeof claim === 'string') for (const s of claim.split(' ')) if (s) out.add(s);
    if (Array.isArray(claim)) for (const s of claim) if (typeof s === 'string') out.add(s);
  }
  return out;
}

/** A JWT: three base64url parts. API keys (`sb_…`) never have a dot. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

/**
 * Verifies bearer JWTs with one key source: HS256 with a shared secret, or RS256 with a PEM
 * public key or a JWKS file (keys picked by `kid`). Issuer and audience must match exactly;
 * exp/nbf are checked with the configured clock tolerance. Keys are loaded at construction, so
 * a bad key file stops the service at start rather than at the first request.
 */
export class JwtVerifier {
  private readonly key: Uint8Array | KeyObject | JWTVerifyGetKey;
  private readonly algorithms: string[];

  constructor(private readonly config: JwtConfig) {
    try {
      if (config.secret !== undefined) {
        this.key = new TextEncoder().encode(config.secret);
        this.algorithms = ['HS256'];
      } else if (config.publicKeyFile !== undefined) {
        this.key = createPublicKey(readFileSync(config.publicKeyFile));
        this.algorithms = ['RS256'];
      } else {
        this.key = createLocalJWKSet(JSON.parse(readFileSync(config.jwksFile as string, 'utf8')) as Parameters<typeof createLocalJWKSet>[0]);
        this.algorithms = ['RS256'];
      }
    } catch (err) {
      throw sbError('SB_CONFIG_INVALID', `JWT key (${config.publicKeyFile ?? config.jwksFile ?? 'SB_JWT_SECRET'}): ${(err as Error).message}`);
    }
  }

  /** The token's identity; SB_API_UNAUTHORIZED (invalid) or SB_API_TOKEN_EXPIRED. */
  async verify(token: string): Promise<TokenIdentity> {
    const options = { issuer: this.config.issuer, audience: this.config.audience, clockTolerance: this.config.clockToleranceSec, algorithms: this.algorithms };
    try {
      const { payload } = typeof this.key === 'function' ? await jwtVerify(token, this.key, options) : await jwtVerify(token, this.key, options);
      return { subject: payload.sub ?? '', scopes: scopesOf(payload) };
    } catch (err) {
      throw tokenError(err);
    }
  }
}

function tokenError(err: unknown): SwitchboardError {
  const unauthorized = (why: string): SwitchboardError => new SwitchboardError('SB_API_UNAUTHORIZED', [`invalid token: ${why}`]);
  if (err instanceof errors.JWTExpired) return new SwitchboardError('SB_API_TOKEN_EXPIRED', ['the token has expired (exp); get a new one']);
  if (err instanceof errors.JWTClaimValidationFailed) return unauthorized(`"${err.claim}" claim ${err.reason === 'check_failed' ? 'does not match' : err.reason.replace(/_/g, ' ')}`);
  if (err instanceof errors.JWSSignatureVerificationFailed) return unauthorized('bad signature');
  if (err instanceof errors.JOSEAlgNotAllowed) return unauthorized('algorithm not allowed');
  if (err instanceof errors.JWKSNoMatchingKey) return unauthorized('no key matches its kid');
  return unauthorized(err instanceof Error ? err.message : 'unreadable');
}
