import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSwitchboardError, SwitchboardError } from '../errors.ts';
import type { ControlCommand } from '../flow/call-control.ts';
import { compileFlow } from '../flow/compile.ts';
import type { Service } from '../service.ts';
import { verifyApiKey } from './api-keys.ts';

/** The error body of every /v1 failure: a stable code, a message, and where in the body. */
function send(reply: FastifyReply, err: SwitchboardError): FastifyReply {
  const pointer = typeof err.context.pointer === 'string' ? err.context.pointer : undefined;
  return reply.code(err.status).send({ code: err.code, message: err.message, ...(pointer !== undefined ? { pointer } : {}), ...(err.context.problems ? { problems: err.context.problems } : {}) });
}

function apiError(code: ConstructorParameters<typeof SwitchboardError>[0], message: string, context = {}): SwitchboardError {
  return new SwitchboardError(code, [message], context);
}

/**
 * The REST API under /v1: every route needs `Authorization: Bearer <API key>` (keys are kept
 * hashed, SB_API_KEYS / SB_API_KEYS_FILE). /health and /metrics stay outside.
 */
export function registerRestApi(app: FastifyInstance, service: Service): void {
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (isSwitchboardError(err)) return send(reply, err);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return send(reply, new SwitchboardError('SB_API_TOO_LARGE', [1024 * 1024]));
    if (err.statusCode !== undefined && err.statusCode < 500) return send(reply, apiError('SB_API_BAD_REQUEST', err.message));
    req.log.error({ err: err.message }, 'request failed');
    return reply.code(500).send({ code: 'SB_INTERNAL', message: 'internal error' });
  });

  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (!req.url.startsWith('/v1/')) return;
    const keys = service.config.apiKeys;
    if (keys.length === 0) throw apiError('SB_API_UNAUTHORIZED', 'the REST API has no keys configured (SB_API_KEYS; make one with: switchboard api-key <name>)');
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const name = m ? verifyApiKey(keys, m[1] as string) : undefined;
    if (!name) throw apiError('SB_API_UNAUTHORIZED', m ? 'unknown API key' : 'missing "Authorization: Bearer <API key>"');
    req.log.debug({ apiKey: name }, 'authenticated');
  });

  app.post('/v1/calls', async (req, reply) => {
    if (!service.queue) throw apiError('SB_API_UNAVAILABLE', 'outbound calls need Redis (REDIS_URL)');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const flow = typeof body.flow === 'string' ? service.flows.get(body.flow) : undefined;
    if (typeof body.flow === 'string' && !flow) throw apiError('SB_API_BAD_REQUEST', `no flow named "${body.flow}"`, { pointer: '/flow' });
    if (flow && flow.trigger !== 'outbound') throw apiError('SB_API_BAD_REQUEST', `flow "${flow.name}" is not an outbound flow (trigger: outbound)`, { pointer: '/flow' });
    const key = req.headers['idempotency-key'];
    const job = { ...body, ...(typeof key === 'string' && key !== '' ? { idempotencyKey: key } : {}) };
    const r = await service.queue.add(job as never);
    return reply.code(r.created === false ? 200 : 202).send({ callId: r.callId, jobId: r.jobId, state: 'queued' });
  });

  app.get('/v1/calls', async () => ({
    calls: [...service.server.calls.values()].map((c) => ({ callId: c.id, state: c.state, from: c.data.callerNumber, to: c.data.destination, direction: c.data.direction, parked: service.control.isListening(c.id) })),
  }));

  app.get<{ Params: { id: string } }>('/v1/calls/:id', async (req) => {
    const call = service.server.calls.get(req.params.id);
    if (!call) throw apiError('SB_API_NOT_FOUND', `no live call ${req.params.id}`);
    return { callId: call.id, state: call.state, from: call.data.callerNumber, to: call.data.destination, direction: call.data.direction, parked: service.control.isListening(call.id), channel: call.data.channelName };
  });

  const command = (action: ControlCommand['action']) => async (req: FastifyRequest<{ Params: { id: string }; Body: Record<string, unknown> | undefined }>) => {
    const call = service.server.calls.get(req.params.id);
    if (!call) throw apiError('SB_API_NOT_FOUND', `no live call ${req.params.id}`);
    const b = req.body ?? {};
    const cmd = { action, ...b } as ControlCommand;
    if (service.control.send(call.id, cmd)) return { callId: call.id, accepted: action };
    if (action === 'hangup') {
      await call.hangup(typeof b.cause === 'string' ? b.cause : 'NORMAL_CLEARING');
      return { callId: call.id, accepted: action };
    }
    throw apiError('SB_API_CONFLICT', `call ${call.id} is not waiting for commands (only a parked call can be answered, bridged or transferred)`);
  };
  app.post('/v1/calls/:id/hangup', command('hangup'));
  app.post('/v1/calls/:id/answer', command('answer'));
  app.post('/v1/calls/:id/transfer', command('transfer'));
  app.post('/v1/calls/:id/bridge', command('bridge'));

  app.get('/v1/flows', async () => ({
    flows: service.flows.all().map((p) => ({ name: p.name, file: p.file, trigger: p.trigger, default: p.isDefault, match: p.match, steps: p.steps.length })),
  }));

  app.post('/v1/flows/validate', async (req) => {
    const b = (req.body ?? {}) as { yaml?: unknown; file?: unknown };
    if (typeof b.yaml !== 'string') throw apiError('SB_API_BAD_REQUEST', 'body needs "yaml": the flow text', { pointer: '/yaml' });
    const { plan, diagnostics } = compileFlow(b.yaml, typeof b.file === 'string' ? b.file : 'request.yaml', service.plugins);
    return { ok: plan !== undefined, diagnostics };
  });

  app.post('/v1/flows/reload', async (_req, reply) => {
    const r = service.reload();
    return reply.code(r.ok ? 200 : 422).send({ ok: r.ok, flows: r.plans.map((p) => p.name), diagnostics: r.diagnostics });
  });
}
