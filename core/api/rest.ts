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
    const cmd = controlCommand(action, req.body ?? {});
    if (service.control.send(call.id, cmd)) return { callId: call.id, accepted: action };
    if (action === 'hangup') {
      await call.hangup(cmd.action === 'hangup' ? (cmd.cause ?? 'NORMAL_CLEARING') : 'NORMAL_CLEARING');
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

/** The route names the action; the body only carries its arguments, each type-checked. */
function controlCommand(action: ControlCommand['action'], b: Record<string, unknown>): ControlCommand {
  const str = (name: string, required: boolean): string | undefined => {
    const v = b[name];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v === '') throw apiError('SB_API_BAD_REQUEST', `"${name}" must be a non-empty string`, { pointer: `/${name}` });
    return v;
  };
  const allowed: Record<ControlCommand['action'], string[]> = { answer: [], hangup: ['cause'], transfer: ['to', 'context'], bridge: ['to', 'timeout'] };
  const extra = Object.keys(b).find((k) => !allowed[action].includes(k));
  if (extra !== undefined) throw apiError('SB_API_BAD_REQUEST', `unknown field "${extra}" for ${action}`, { pointer: `/${extra}` });
  switch (action) {
    case 'answer':
      return { action };
    case 'hangup':
      return { action, ...(b.cause !== undefined ? { cause: str('cause', true) as string } : {}) };
    case 'transfer':
      return { action, to: str('to', true) as string, ...(b.context !== undefined ? { context: str('context', true) as string } : {}) };
    case 'bridge': {
      const to = b.to;
      if (!(typeof to === 'string' || (Array.isArray(to) && to.length > 0 && to.every((t) => typeof t === 'string')))) throw apiError('SB_API_BAD_REQUEST', '"to" must be an endpoint or a list of endpoints', { pointer: '/to' });
      if (b.timeout !== undefined && (typeof b.timeout !== 'number' || b.timeout <= 0 || b.timeout > 600)) throw apiError('SB_API_BAD_REQUEST', '"timeout" must be seconds, 1–600', { pointer: '/timeout' });
      return { action, to: to as string | string[], ...(b.timeout !== undefined ? { timeout: b.timeout as number } : {}) };
    }
  }
}
