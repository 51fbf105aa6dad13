import type { FastifyInstance } from 'fastify';
import { SwitchboardError } from '../errors.ts';
import type { ControlCommand } from '../flow/call-control.ts';
import type { HistoryCursor } from '../history/call-history.ts';
import { cursorOf, newestFirst } from '../history/call-history.ts';
import { validateCallJob, type CallJob } from '../queue/index.ts';
import type { Service } from '../service.ts';
import { finishedView, liveView, withJob } from './call-views.ts';
import { CALL_STATES, ERROR_RESPONSES, type CallView } from './schemas.ts';

const apiError = (code: 'SB_API_NOT_FOUND' | 'SB_API_BAD_REQUEST' | 'SB_API_UNAVAILABLE' | 'SB_API_CONFLICT', message: string, context = {}): SwitchboardError =>
  new SwitchboardError(code, [message], context);

const callRef = { $ref: 'Call#' } as const;
const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'A call id (uuid), or the job id of an outbound call.' } },
} as const;
const commandReply = {
  type: 'object',
  required: ['callId', 'accepted'],
  properties: { callId: { type: 'string' }, accepted: { enum: ['answer', 'hangup', 'transfer', 'bridge'] } },
} as const;
const CURSOR = /^(\d{1,15}):([A-Za-z0-9_-]{1,64})$/;

interface ListQuery {
  state?: CallView['state'];
  direction?: CallView['direction'];
  limit: number;
  before?: string;
}

/** Each command's arguments; the route names the action, so a body can never change it. */
const commandBodies: Record<ControlCommand['action'], object> = {
  answer: { type: 'object', additionalProperties: false, properties: {} },
  hangup: { type: 'object', additionalProperties: false, properties: { cause: { type: 'string', pattern: '^[A-Z][A-Z_]{1,63}$', description: 'Hangup cause, default NORMAL_CLEARING.' } } },
  transfer: {
    type: 'object',
    additionalProperties: false,
    required: ['to'],
    properties: { to: { type: 'string', minLength: 1, maxLength: 128, description: 'Extension to transfer to.' }, context: { type: 'string', minLength: 1, maxLength: 128 } },
  },
  bridge: {
    type: 'object',
    additionalProperties: false,
    required: ['to'],
    properties: {
      to: {
        anyOf: [
          { type: 'string', minLength: 1, maxLength: 256 },
          { type: 'array', minItems: 1, maxItems: 16, items: { type: 'string', minLength: 1, maxLength: 256 } },
        ],
        description: 'An endpoint (`1001`, `user/1001`, `sofia/gateway/gw/+1555…`) or several, rung at once.',
      },
      timeout: { type: 'number', exclusiveMinimum: 0, maximum: 600, description: 'Ring seconds.' },
    },
  },
};

/** Calls: queue outbound ones, list and read live and finished ones, command parked ones. */
export function registerCallRoutes(app: FastifyInstance, service: Service): void {
  app.post<{ Body: CallJob; Headers: { 'idempotency-key'?: string } }>(
    '/v1/calls',
    {
      schema: {
        tags: ['calls'],
        summary: 'Queue an outbound call',
        description: 'The body is the queue\'s call job (one schema for both). The flow must exist and be `trigger: outbound`. 202 with the ids; with an Idempotency-Key already used for the same job, 200 with the first call\'s ids and nothing new queued.',
        headers: {
          type: 'object',
          properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200, description: 'Retry-safe key: the same key always gives the same call, never a second one.' } },
        },
        body: { $ref: 'CallJob#' },
        response: {
          202: { type: 'object', required: ['callId', 'jobId', 'state'], properties: { callId: { type: 'string' }, jobId: { type: 'string' }, state: { enum: ['queued'] } } },
          200: { type: 'object', required: ['callId', 'jobId', 'state'], properties: { callId: { type: 'string' }, jobId: { type: 'string' }, state: { type: 'string' } } },
          ...ERROR_RESPONSES,
        },
      },
      // A body the schema refuses is reported by the queue's own validator: every problem, its messages.
      config: { explainBody: validateCallJob },
    },
    async (req, reply) => {
      if (!service.queue) throw apiError('SB_API_UNAVAILABLE', 'outbound calls need Redis (REDIS_URL)');
      const body = req.body;
      const flow = service.flows.get(body.flow);
      if (!flow) throw apiError('SB_API_BAD_REQUEST', `no flow named "${body.flow}"`, { pointer: '/flow' });
      if (flow.trigger !== 'outbound') throw apiError('SB_API_BAD_REQUEST', `flow "${flow.name}" is not an outbound flow (trigger: outbound)`, { pointer: '/flow' });
      const key = req.headers['idempotency-key'];
      const r = await service.queue.add({ ...body, ...(key !== undefined ? { idempotencyKey: key } : {}) });
      return reply.code(r.created === false ? 200 : 202).send({ callId: r.callId, jobId: r.jobId, state: 'queued' });
    },
  );

  app.get<{ Querystring: ListQuery }>(
    '/v1/calls',
    {
      schema: {
        tags: ['calls'],
        summary: 'List calls, newest first',
        description:
          'Calls in progress on this instance and finished calls (the history: every instance\'s with Redis), sorted by start time, newest first — outbound jobs that ended without connecting (busy, no answer, cancelled) among them. Jobs still queued or dialling are read by job id (GET /v1/calls/{jobId}).',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            state: { enum: CALL_STATES },
            direction: { enum: ['inbound', 'outbound'] },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            before: { type: 'string', pattern: CURSOR.source, description: 'The `next` of the previous page.' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['calls'],
            properties: { calls: { type: 'array', items: callRef }, next: { type: 'string', description: 'Pass as `before` for the next page; absent on the last.' } },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (req) => {
      const q = req.query;
      const m = q.before !== undefined ? CURSOR.exec(q.before) : null;
      const before: HistoryCursor | undefined = m ? { startedMs: Number(m[1]), callId: m[2] as string } : undefined;
      // A call that just hung up is in the history an instant later: listed from there.
      const live = [...service.server.calls.values()]
        .filter((c) => !c.isGone)
        .map((c) => liveView(c, service.calls.liveInfo(c.id), service.control.isListening(c.id)))
        .filter((v) => (q.state === undefined || v.state === q.state) && (q.direction === undefined || v.direction === q.direction));
      const historyState = q.state === 'completed' || q.state === 'failed' || q.state === 'cancelled' ? q.state : undefined;
      const finished =
        q.state === undefined || historyState !== undefined
          ? (await service.calls.history.list({ limit: q.limit + 1, ...(historyState ? { state: historyState } : {}), ...(q.direction ? { direction: q.direction } : {}), ...(before ? { before } : {}) })).map(finishedView)
          : [];
      const seen = new Set(finished.map((v) => v.callId));
      const all = [...live.filter((v) => !seen.has(v.callId)), ...finished]
        .map((v) => ({ v, at: cursorOf({ callId: v.callId, startedAt: v.startedAt ?? new Date(0).toISOString() }) }))
        .filter((x) => before === undefined || newestFirst(x.at, before) > 0)
        .sort((a, b) => newestFirst(a.at, b.at));
      const page = all.slice(0, q.limit);
      const last = page[page.length - 1];
      return { calls: page.map((x) => x.v), ...(all.length > q.limit && last ? { next: `${last.at.startedMs}:${last.at.callId}` } : {}) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/calls/:id',
    {
      schema: {
        tags: ['calls'],
        summary: 'A call, live or finished, with its timeline',
        description: 'By call id, or for an outbound call by job id (which also finds a job that has not connected yet). Outbound calls include the queue job: attempts, cause and its state changes in the timeline.',
        params: idParams,
        response: { 200: callRef, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const id = req.params.id;
      const isJob = /^[ck]-/.test(id);
      const job = isJob && service.queue ? await service.queue.get(id) : undefined;
      const callId = job?.callId ?? id;
      const call = service.server.calls.get(callId);
      const info = call ? service.calls.liveInfo(callId) : undefined;
      let view = call ? liveView(call, info, service.control.isListening(callId)) : undefined;
      if (!view) {
        const finished = await service.calls.history.get(callId);
        if (finished) view = finishedView(finished);
      }
      const jobId = job?.jobId ?? view?.jobId;
      const jobState = job ?? (jobId !== undefined && service.queue ? await service.queue.get(jobId) : undefined);
      if (jobState) return withJob(view, jobState);
      if (view) return view;
      throw apiError('SB_API_NOT_FOUND', `no call ${id} (unknown, or older than the history keeps)`);
    },
  );

  const command = (action: ControlCommand['action']): void => {
    app.post<{ Params: { id: string }; Body: Record<string, unknown> }>(
      `/v1/calls/:id/${action}`,
      {
        schema: {
          tags: ['calls'],
          summary: action === 'hangup' ? 'Hang up a live call' : `${action[0]?.toUpperCase()}${action.slice(1)} a parked call`,
          description: action === 'hangup' ? 'Any live call on this instance; a parked call hangs up through its flow.' : 'Only a call waiting in a `park` step takes it (409 otherwise).',
          params: idParams,
          body: commandBodies[action],
          response: { 200: commandReply, ...ERROR_RESPONSES },
        },
      },
      async (req) => {
        const call = service.server.calls.get(req.params.id);
        if (!call || call.isGone) throw apiError('SB_API_NOT_FOUND', `no live call ${req.params.id}`);
        const cmd = { ...req.body, action } as ControlCommand;
        if (service.control.send(call.id, cmd)) return { callId: call.id, accepted: action };
        if (cmd.action === 'hangup') {
          await call.hangup(cmd.cause ?? 'NORMAL_CLEARING');
          return { callId: call.id, accepted: action };
        }
        throw apiError('SB_API_CONFLICT', `call ${call.id} is not waiting for commands (only a parked call can be answered, bridged or transferred)`);
      },
    );
  };
  for (const action of ['hangup', 'answer', 'transfer', 'bridge'] as const) command(action);
}
