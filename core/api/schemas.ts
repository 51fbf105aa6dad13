// JSON Schemas of the REST API shared by several routes: registered once on the HTTP server
// (addSchema) so every route can $ref them, and published by @fastify/swagger as
// components.schemas. Types are derived from them (FromSchema): one definition for both.
import { callJobSchema, type FromSchema } from '../queue/index.ts';

/** The body of every 4xx/5xx answer. */
export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', description: 'Stable error code (core/errors.ts), e.g. SB_API_BAD_REQUEST.' },
    message: { type: 'string', description: 'What is wrong, for people.' },
    pointer: { type: 'string', description: 'JSON pointer (RFC 6901) of the offending value: into the body, or into the parameters named by `in`.' },
    in: { enum: ['query', 'path', 'header'], description: 'Set when `pointer` is about a query, path or header parameter instead of the body.' },
    problems: {
      type: 'array',
      description: 'Every problem found, when there are several.',
      items: { type: 'object', required: ['pointer', 'message'], properties: { pointer: { type: 'string' }, message: { type: 'string' } } },
    },
  },
} as const;

/** POST /v1/calls takes exactly the queue's job schema. */
export const callJobBodySchema = { ...callJobSchema, $id: 'CallJob' } as const;

const timelineEntry = {
  type: 'object',
  required: ['at', 'kind'],
  properties: {
    at: { type: 'string', description: 'ISO 8601 time.' },
    kind: { type: 'string', description: '`job` (queue: state changes of an outbound job), or the flow\'s `flow-start`, `step-start`, `step-end`, `error`, `hangup`, `flow-end`.' },
    state: { type: 'string', description: 'job: the state entered.' },
    attempt: { type: 'integer' },
    cause: { type: 'string' },
    step: { type: 'string', description: 'flow: the step id.' },
    name: { type: 'string', description: 'flow: the step (plugin) name.' },
    outcome: { type: 'string' },
    detail: { type: 'string' },
  },
} as const;

export const CALL_STATES = ['queued', 'dialing', 'retrying', 'ringing', 'answered', 'completed', 'failed', 'cancelled'] as const;

/** A call, live or finished, inbound or outbound (with its queue job when it has one). */
export const callSchema = {
  $id: 'Call',
  type: 'object',
  required: ['callId', 'direction', 'state', 'live', 'timeline'],
  properties: {
    callId: { type: 'string', description: 'The channel uuid (for an outbound call: fixed when it was queued).' },
    jobId: { type: 'string', description: 'The queue job of an outbound call.' },
    direction: { enum: ['inbound', 'outbound'] },
    state: { enum: CALL_STATES, description: 'queued/dialing/retrying/cancelled: an outbound job not connected (yet); ringing/answered: live; completed/failed: ended.' },
    live: { type: 'boolean', description: 'In progress on a Switchboard instance right now.' },
    from: { type: 'string' },
    to: { type: 'string' },
    flow: { type: 'string' },
    parked: { type: 'boolean', description: 'Live: waiting in a park step for POST /v1/calls/{id}/answer, bridge, transfer or hangup.' },
    channel: { type: 'string', description: 'Live: the FreeSWITCH channel name.' },
    createdAt: { type: 'string', description: 'Outbound: when the job was queued.' },
    startedAt: { type: 'string', description: 'When the call connected to Switchboard.' },
    answeredAt: { type: 'string' },
    endedAt: { type: 'string' },
    durationMs: { type: 'integer' },
    ending: { type: 'string', description: 'How the flow ended: completed, hangup (the caller left), error, max-steps, or unrouted (no flow took the call).' },
    stepsRun: { type: 'integer' },
    steps: { type: 'array', items: { type: 'object', required: ['id', 'outcome'], properties: { id: { type: 'string' }, outcome: { type: 'string' } } } },
    hangup: {
      type: 'object',
      required: ['cause', 'by'],
      properties: {
        cause: { type: 'string', description: 'FreeSWITCH hangup cause.' },
        by: { enum: ['switchboard', 'remote'], description: 'switchboard: the flow hung up; remote: the caller, the far end or FreeSWITCH.' },
        disposition: { type: 'string', description: 'sip_hangup_disposition, when FreeSWITCH sets it.' },
      },
    },
    cause: { type: 'string', description: 'Outbound: the job\'s last hangup or failure cause.' },
    attempts: { type: 'integer', description: 'Outbound: dial attempts made.' },
    maxAttempts: { type: 'integer' },
    nextAttemptAt: { type: 'string' },
    instance: { type: 'string', description: 'The Switchboard instance (host:pid) that ran the call.' },
    timeline: { type: 'array', items: timelineEntry },
  },
} as const;

export type CallView = FromSchema<typeof callSchema>;
export type CallTimelineEntry = FromSchema<typeof timelineEntry>;

const memberSchema = {
  type: 'object',
  required: ['id', 'callId', 'callerIdName', 'callerIdNumber', 'muted', 'talking', 'moderator', 'joinedAt'],
  properties: {
    id: { type: 'integer', description: 'Member id in the room: what mute, unmute and kick take.' },
    callId: { type: 'string' },
    callerIdName: { type: 'string' },
    callerIdNumber: { type: 'string' },
    muted: { type: 'boolean' },
    talking: { type: 'boolean' },
    moderator: { type: 'boolean' },
    joinedAt: { type: 'string' },
  },
} as const;

export const roomSchema = {
  $id: 'Room',
  type: 'object',
  required: ['name', 'memberCount', 'runTimeSec', 'locked', 'members'],
  properties: {
    name: { type: 'string' },
    memberCount: { type: 'integer' },
    runTimeSec: { type: 'integer', description: 'Seconds since the room was created (its first member joined).' },
    locked: { type: 'boolean' },
    members: { type: 'array', items: memberSchema },
  },
} as const;

export const SHARED_SCHEMAS = [errorSchema, callJobBodySchema, callSchema, roomSchema] as const;

/** Error answers every route can give. */
export const ERROR_RESPONSES = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } } as const;
