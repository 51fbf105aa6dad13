import type { FastifyRequest } from 'fastify';
import { SwitchboardError } from '../errors.ts';
import type { ApiKey } from './api-keys.ts';
import { verifyApiKey } from './api-keys.ts';
import { allows, looksLikeJwt, requiredScope, type JwtVerifier } from './jwt-auth.ts';

const unauthorized = (message: string): SwitchboardError => new SwitchboardError('SB_API_UNAUTHORIZED', [message]);

/**
 * The /v1 gate: `Authorization: Bearer <token>`, where the token is an API key (full access) or,
 * when JWT auth is configured, a JWT whose scopes must allow the route (jwt-auth.ts).
 */
export function authenticator(keys: readonly ApiKey[], jwt: JwtVerifier | undefined): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    if (!req.url.startsWith('/v1/')) return;
    if (keys.length === 0 && jwt === undefined) throw unauthorized('the REST API has no keys configured (SB_API_KEYS; make one with: switchboard api-key <name>)');
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (token === undefined) throw unauthorized(`missing "Authorization: Bearer <${jwt ? 'API key or token' : 'API key'}>"`);
    if (jwt !== undefined && looksLikeJwt(token)) {
      const who = await jwt.verify(token);
      const needed = requiredScope(req.method, req.routeOptions.url ?? req.url);
      if (!allows(who.scopes, needed)) throw new SwitchboardError('SB_API_FORBIDDEN', [`the token does not grant scope "${needed}"`], { scope: needed });
      req.log.debug({ sub: who.subject }, 'authenticated by token');
      return;
    }
    const name = verifyApiKey(keys, token);
    if (!name) throw unauthorized('unknown API key');
    req.log.debug({ apiKey: name }, 'authenticated');
  };
}
