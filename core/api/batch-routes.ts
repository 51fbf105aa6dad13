import { Ajv } from 'ajv';
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import { SwitchboardError } from '../errors.ts';
import { BATCH_ID, batchQuerySchema, batchSchema, batchSettingsSchema, type BatchCreateOptions } from '../queue/index.ts';
import type { Service } from '../service.ts';
import { ERROR_RESPONSES, errorSchema } from './schemas.ts';

const BATCH_STATES = ['running', 'paused', 'cancelled', 'done'] as const;

const rejectedRow = {
  type: 'object',
  required: ['row', 'pointer', 'message'],
  properties: {
    row: { type: 'integer', description: '1-based number of the row in the request (the JSON rows, or the CSV records after the header).' },
    pointer: { type: 'string', description: 'JSON pointer of the bad value: `/rows/<row − 1>/<field>`.' },
    message: { type: 'string' },
    line: { type: 'integer', description: 'CSV uploads: the line of the file the row starts on.' },
  },
} as const;

const integer = { type: 'integer' } as const;
const counts = {
  type: 'object',
  required: ['pending', 'queued', 'dialing', 'answered', 'retrying', 'completed', 'failed', 'cancelled', 'done'],
  properties: {
    pending: { ...integer, description: 'Rows not yet made into call jobs.' },
    queued: integer,
    dialing: integer,
    answered: { ...integer, description: 'Answered and in progress.' },
    retrying: { ...integer, description: 'Waiting for another attempt.' },
    completed: { ...integer, description: 'Answered, then ended.' },
    failed: { ...integer, description: 'Never answered (attempts exhausted, or a cause not retried).' },
    cancelled: { ...integer, description: 'Cancelled before dialling (a cancelled batch\'s rows never made into jobs included).' },
    done: { ...integer, description: 'completed + failed + cancelled.' },
  },
} as const;

const batchStatus = {
  type: 'object',
  required: ['batchId', 'state', 'createdAt', 'updatedAt', 'settings', 'total', 'rejectedCount', 'counts'],
  properties: {
    batchId: { type: 'string' },
    name: { type: 'string' },
    state: { enum: BATCH_STATES, description: 'running: rows are expanded and dialled; paused: nothing new is dialled; cancelled: nothing not dialled will be; done: every row\'s call has ended.' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    finishedAt: { type: 'string', description: 'When the last call ended (done), or the last call in progress when cancelled.' },
    settings: batchSettingsSchema,
    total: { ...integer, description: 'Rows accepted: one call job each.' },
    rejectedCount: integer,
    counts,
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: BATCH_ID.source, description: 'The batch id (b-…).' } } } as const;
const accepted = {
  type: 'object',
  required: ['batchId', 'created', 'state', 'accepted', 'rejected'],
  properties: {
    batchId: { type: 'string' },
    created: { type: 'boolean', description: 'false: the Idempotency-Key matched an existing batch; nothing new was stored.' },
    state: { enum: BATCH_STATES },
    accepted: { ...integer, description: 'Rows accepted: each becomes one call.' },
    rejected: { type: 'array', items: rejectedRow, description: 'Rows refused, each with why; the rest was accepted.' },
  },
} as const;
/** The common error body, whose problems may be rejected rows (strict, or no valid row): with their row and line. */
const { $id: _eid, ...errorBody } = errorSchema;
const rowsError = { ...errorBody, properties: { ...errorBody.properties, problems: { type: 'array', items: { ...rejectedRow, required: ['pointer', 'message'] } } } } as const;

const { $id: _bid, ...batchBody } = batchSchema as typeof batchSchema & { $id?: string };

// POST /v1/batches checks its body itself (queue/batch-validate.ts, against the schema published
// here): an invalid row is reported and the valid rest accepted, where a schema check would
// refuse the whole request. Query and headers are checked as declared, without coercion (strings).
const textAjv = new Ajv({ strict: false, allErrors: false, coerceTypes: false, removeAdditional: false });
const ownBodyCheck: FastifySchemaCompiler<object> = ({ schema, httpPart }) => (httpPart === 'body' ? () => true : textAjv.compile(schema));

type CreateQuery = Record<string, string | string[]> & { strict?: 'true' | 'false' };

/** Batches (campaigns): POST a list of numbers (JSON or CSV), follow its progress, pause, resume, cancel. */
export function registerBatchRoutes(app: FastifyInstance, service: Service): void {
  const batches = () => {
    if (!service.batches) throw new SwitchboardError('SB_API_UNAVAILABLE', ['batches need Redis (REDIS_URL)']);
    return service.batches;
  };
  const checkFlow = (name: unknown, where: 'body' | 'query'): void => {
    if (typeof name !== 'string') return; // missing or mistyped: the settings check says so
    const context = { pointer: '/flow', ...(where === 'query' ? { in: 'query' } : {}) };
    const flow = service.flows.get(name);
    if (!flow) throw new SwitchboardError('SB_API_BAD_REQUEST', [`no flow named "${name}"`], context);
    if (flow.trigger !== 'outbound') throw new SwitchboardError('SB_API_BAD_REQUEST', [`flow "${flow.name}" is not an outbound flow (trigger: outbound)`], context);
  };

  // Its own plugin context: the CSV parser is for this route only.
  app.register(async (scope) => {
    scope.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    scope.post<{ Querystring: CreateQuery; Headers: { 'idempotency-key'?: string } }>(
      '/v1/batches',
      {
        bodyLimit: service.config.batch.maxBytes,
        validatorCompiler: ownBodyCheck,
        schema: {
          tags: ['batches'],
          summary: 'Start a batch (campaign) of outbound calls',
          description:
            'JSON: the shared call settings (a call job\'s fields but `to`) and `rows`, each a number with its own vars and overrides. ' +
            'CSV (`Content-Type: text/csv`): a header row naming the columns — `to`, optionally `from` and `callerName`, every other column a channel variable — and the settings in the query string (`flow=…&gateway=…&window.start=09:00&vars.campaign=spring`). ' +
            'Invalid rows are reported (row, JSON pointer, message) and the valid rest is accepted (202); with `strict=true` any invalid row refuses the whole batch (400 SB_BATCH_ROWS_REJECTED, nothing queued). ' +
            'Each row becomes one call job (id `<batchId>-r<row>`) through the calls queue: pacing, retries, calling windows (per row) and webhooks apply as for single calls, which go before batch rows. ' +
            `Bodies over SB_BATCH_MAX_BYTES (${service.config.batch.maxBytes}) are 413, batches over SB_BATCH_MAX_ROWS rows (${service.config.batch.maxRows}) are 413 SB_BATCH_TOO_LARGE.`,
          headers: {
            type: 'object',
            properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200, description: 'Retry-safe key: the same key always gives the same batch, never a second one.' } },
          },
          querystring: batchQuerySchema,
          body: {
            content: {
              'application/json': { schema: batchBody },
              'text/csv': { schema: { type: 'string', description: 'RFC 4180 CSV, header row first; quoted fields may hold commas, quotes ("") and line breaks.' } },
            },
          },
          response: {
            202: accepted,
            200: accepted,
            400: rowsError,
            ...ERROR_RESPONSES,
          },
        },
      },
      async (req, reply) => {
        const { strict, ...query } = req.query;
        const key = req.headers['idempotency-key'];
        const options: BatchCreateOptions = { strict: strict === 'true', ...(key !== undefined ? { idempotencyKey: key } : {}) };
        let r;
        if (typeof req.body === 'string') {
          checkFlow(query.flow, 'query');
          r = await batches().createFromCsv(req.body, query, options);
        } else {
          const extra = Object.keys(query)[0];
          if (extra !== undefined) throw new SwitchboardError('SB_BATCH_BAD_REQUEST', [`query parameter "${extra}" is for CSV uploads: a JSON batch has its settings in the body`], { pointer: `/${extra}`, in: 'query' });
          checkFlow((req.body as { flow?: unknown } | null)?.flow, 'body');
          r = await batches().create(req.body, options);
        }
        return reply.code(r.created ? 202 : 200).send(r);
      },
    );
  });

  app.get<{ Querystring: { limit: number } }>(
    '/v1/batches',
    {
      schema: {
        tags: ['batches'],
        summary: 'List batches, newest first',
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } } },
        response: { 200: { type: 'object', required: ['batches'], properties: { batches: { type: 'array', items: batchStatus } } }, ...ERROR_RESPONSES },
      },
    },
    async (req) => ({ batches: await batches().list(req.query.limit) }),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/batches/:id',
    {
      schema: {
        tags: ['batches'],
        summary: 'A batch: settings, state, counts and rejected rows',
        params: idParams,
        response: { 200: { ...batchStatus, required: [...batchStatus.required, 'rejected'], properties: { ...batchStatus.properties, rejected: { type: 'array', items: rejectedRow } } }, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const batch = await batches().get(req.params.id);
      if (!batch) throw new SwitchboardError('SB_BATCH_NOT_FOUND', [req.params.id]);
      return batch;
    },
  );

  const actions = {
    pause: ['Pause a batch', 'No new call of the batch is dialled and its rows are no longer expanded; calls in progress go on. Pausing a paused batch is fine; a cancelled or done one is 409.'],
    resume: ['Resume a paused batch', 'Releases the held calls and expands the remaining rows. Resuming a running batch is fine; a cancelled or done one is 409.'],
    cancel: ['Cancel a batch', 'Every call of the batch not yet dialled is cancelled; calls in progress finish. Cancelling a cancelled batch is fine; a done one is 409.'],
  } as const;
  for (const [action, [summary, description]] of Object.entries(actions) as Array<[keyof typeof actions, readonly [string, string]]>) {
    app.post<{ Params: { id: string } }>(
      `/v1/batches/:id/${action}`,
      {
        schema: { tags: ['batches'], summary, description, params: idParams, body: { type: 'object', additionalProperties: false, properties: {} }, response: { 200: batchStatus, ...ERROR_RESPONSES } },
      },
      async (req) => batches()[action](req.params.id),
    );
  }
}
