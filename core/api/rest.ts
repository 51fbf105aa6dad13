import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSwitchboardError, SwitchboardError } from '../errors.ts';
import type { Service } from '../service.ts';
import { authenticator } from './auth.ts';
import { registerAudioRoutes } from './audio-routes.ts';
import { registerBatchRoutes } from './batch-routes.ts';
import { registerCallRoutes } from './call-routes.ts';
import { registerFlowRoutes } from './flow-routes.ts';
import { JwtVerifier } from './jwt-auth.ts';
import { registerRoomRoutes } from './room-routes.ts';
import { useRequestValidators, validationFailure } from './validation.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * When the body fails the route's schema: throws the coded error that explains it, with the
     * route's own words (POST /v1/calls: the queue's validator, SB_QUEUE_BAD_JOB, every problem).
     */
    explainBody?: (body: unknown) => unknown;
  }
}

/** The error body of every /v1 failure: a stable code, a message, and where (schemas.ts, Error). */
function send(reply: FastifyReply, err: SwitchboardError): FastifyReply {
  const c = err.context;
  if (err.status === 401) reply.header('www-authenticate', `Bearer realm="switchboard", error="invalid_token"`);
  return reply.code(err.status).send({
    code: err.code,
    message: err.message,
    ...(typeof c.pointer === 'string' ? { pointer: c.pointer } : {}),
    ...(typeof c.in === 'string' ? { in: c.in } : {}),
    ...(Array.isArray(c.problems) ? { problems: c.problems } : {}),
  });
}

function handleError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (isSwitchboardError(err)) return send(reply, err);
  if (err.validation) {
    const explain = req.routeOptions.config.explainBody;
    if (err.validationContext === 'body' && explain) {
      try {
        explain(req.body);
      } catch (explained) {
        if (isSwitchboardError(explained)) return send(reply, explained);
      }
    }
    return send(reply, validationFailure(err.validation, err.validationContext));
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return send(reply, new SwitchboardError('SB_API_TOO_LARGE', [req.routeOptions.bodyLimit ?? 0]));
  if (err.statusCode === 415) return send(reply, new SwitchboardError('SB_API_UNSUPPORTED_MEDIA', [`${err.message} (send application/json)`]));
  if (err.statusCode !== undefined && err.statusCode < 500) return send(reply, new SwitchboardError('SB_API_BAD_REQUEST', [err.message]));
  req.log.error({ err: err.message }, 'request failed');
  return reply.code(500).send({ code: 'SB_INTERNAL', message: 'internal error' });
}

/**
 * The REST API under /v1, registered in its own plugin context (http.ts) after the OpenAPI
 * generator, so every route here is documented at /docs. Every route needs
 * `Authorization: Bearer <API key or JWT>` (auth.ts), has a JSON Schema for its input and
 * output, and answers errors as `{ code, message, pointer? }`.
 */
export function registerRestApi(app: FastifyInstance, service: Service): void {
  useRequestValidators(app);
  app.setErrorHandler(handleError);
  const jwt = service.config.jwt ? new JwtVerifier(service.config.jwt) : undefined;
  app.addHook('onRequest', authenticator(service.config.apiKeys, jwt));
  // A POST without a body (with or without a JSON content type) is an empty object, so routes
  // whose fields are all optional need none. Anything else goes to fastify's JSON parser.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => (body.length === 0 ? done(null, {}) : parseJson(req, String(body), done)));
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && req.method === 'POST') req.body = {};
  });

  registerCallRoutes(app, service);
  registerRoomRoutes(app, service);
  registerFlowRoutes(app, service);
  registerAudioRoutes(app, service);
  registerBatchRoutes(app, service);
}
