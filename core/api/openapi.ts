import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { ENGINE_VERSION } from '../version.ts';
import { SHARED_SCHEMAS } from './schemas.ts';

const DESCRIPTION = `Outbound calls, live and finished calls, conference rooms and flows of a Switchboard service.

**Auth**: every /v1 route needs \`Authorization: Bearer <token>\`: an API key (\`switchboard api-key <name>\`; full access) or, when the service is configured for it, a JWT (HS256/RS256) from your identity provider with the service's issuer and audience. A JWT's \`scope\` (space-separated) or \`scp\` (list) must grant \`<resource>:read\` for GET and \`<resource>:write\` otherwise, where resource is the first path segment after /v1 (\`calls\`, \`rooms\`, \`flows\`, …); write includes read, \`switchboard:admin\` grants everything. 401 \`SB_API_UNAUTHORIZED\` / \`SB_API_TOKEN_EXPIRED\`, 403 \`SB_API_FORBIDDEN\`.

**Errors**: \`{ code, message, pointer?, in?, problems? }\`; \`pointer\` is the JSON pointer of the offending value. Unknown fields are refused; bodies over 1 MiB are 413.`;

/**
 * OpenAPI 3 at /docs/json and Swagger UI at /docs, generated from the route schemas. Must be
 * registered before any route: it documents the routes added after it (the REST plugin).
 */
export function registerOpenApi(app: FastifyInstance): void {
  for (const s of SHARED_SCHEMAS) app.addSchema(s);
  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Switchboard REST API', version: ENGINE_VERSION, description: DESCRIPTION },
      tags: [
        { name: 'calls', description: 'Outbound calls (queued), live and finished calls, commands to parked calls' },
        { name: 'rooms', description: 'Conference rooms (mod_conference) and their members' },
        { name: 'flows', description: 'The YAML call flows' },
        { name: 'batches', description: 'Batches (campaigns) of outbound calls: JSON or CSV rows, progress, pause, resume, cancel' },
        { name: 'ops', description: 'Health and Prometheus metrics (no auth)' },
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key (sb_…) or, when configured, a JWT.' },
        },
      },
      security: [{ bearer: [] }],
    },
    // Shared schemas keep their names (Error, Call, …) in components.schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });
}
