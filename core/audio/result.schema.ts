/**
 * What conversions and audio jobs report, as JSON Schema: the REST API publishes these as its
 * responses, and the TypeScript types are derived from them (one definition for both).
 */
import type { FromSchema } from '../queue/index.ts';
import { batchRequestSchema, convertRequestSchema } from './request.schema.ts';

const strip = <T extends { $id: string }>({ $id: _id, ...rest }: T): Omit<T, '$id'> => rest;

export const convertResultSchema = {
  type: 'object',
  required: ['status', 'input', 'output', 'format', 'duration', 'samples', 'rate', 'channels', 'bits', 'encoding', 'bytes', 'sha256', 'ms', 'warnings'],
  properties: {
    status: { enum: ['converted', 'skipped'], description: 'skipped: the output existed and onExists was skip; the figures describe that file.' },
    input: { type: 'string', description: 'The input, as a real path on the converting host.' },
    output: { type: 'string' },
    format: { type: 'string', description: 'Output format (extension).' },
    duration: { type: 'number', description: 'Seconds of audio, measured on the output (sox --i; Opus and MP3 from their own pages and frames): samples ÷ rate.' },
    samples: { type: 'integer', description: 'Samples per channel.' },
    rate: { type: 'integer' },
    channels: { type: 'integer' },
    bits: { type: 'integer', description: 'Bits per sample as encoded (8 for µ-law and A-law).' },
    encoding: { type: 'string', description: 'sox\'s name of the encoding, e.g. "16-bit Signed Integer PCM", "GSM", "8-bit u-law".' },
    bytes: { type: 'integer', description: 'Size of the output file.' },
    sha256: { type: 'string', description: 'SHA-256 of the output file, hex.' },
    ms: { type: 'integer', description: 'Wall time of the conversion, waiting for a converter included.' },
    warnings: { type: 'array', items: { type: 'string' }, description: 'What sox warned about (clipping, …).' },
  },
} as const;

const failure = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string', description: 'SB_AUDIO_* (core/errors.ts).' }, message: { type: 'string' } },
} as const;

const where = { index: { type: 'integer' }, input: { type: 'string' }, output: { type: 'string' } } as const;

/** What became of one file of a batch. */
export const itemOutcomeSchema = {
  anyOf: [
    { type: 'object', required: ['index', 'input', 'output', 'ok', 'result'], properties: { ...where, ok: { enum: [true] }, result: convertResultSchema } },
    { type: 'object', required: ['index', 'input', 'output', 'ok', 'error'], properties: { ...where, ok: { enum: [false] }, error: failure } },
  ],
} as const;

export const batchSummarySchema = {
  type: 'object',
  required: ['total', 'converted', 'skipped', 'failed'],
  properties: { total: { type: 'integer' }, converted: { type: 'integer' }, skipped: { type: 'integer' }, failed: { type: 'integer' } },
} as const;

export const AUDIO_JOB_STATES = ['queued', 'active', 'retrying', 'completed', 'failed'] as const;

/** An audio job as GET /v1/audio/jobs/{id} shows it. */
export const audioJobSchema = {
  type: 'object',
  required: ['jobId', 'kind', 'state', 'request', 'attempts', 'maxAttempts', 'progress', 'createdAt'],
  properties: {
    jobId: { type: 'string' },
    kind: { enum: ['convert', 'batch'] },
    state: { enum: AUDIO_JOB_STATES, description: 'retrying: a transient failure (full disk, timeout) is waiting for its next try; failed keeps its reason in error.' },
    request: { anyOf: [strip(convertRequestSchema), strip(batchRequestSchema)] },
    attempts: { type: 'integer', description: 'Tries made so far (the one that finished included).' },
    maxAttempts: { type: 'integer' },
    progress: {
      type: 'object',
      required: ['done', 'total', 'failed'],
      properties: { done: { type: 'integer' }, total: { type: 'integer' }, failed: { type: 'integer' } },
      description: 'Files done (converted, skipped or failed) of total.',
    },
    createdAt: { type: 'string' },
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
    result: { ...convertResultSchema, description: 'A single conversion\'s result, once completed.' },
    summary: { ...batchSummarySchema, description: 'A batch\'s counts, once completed.' },
    items: { type: 'array', items: itemOutcomeSchema, description: 'A batch: each file\'s outcome so far, in order.' },
    error: { ...failure, description: 'Why the job failed (or the last transient failure of a retrying job).' },
  },
} as const;

export type ConvertResult = FromSchema<typeof convertResultSchema>;
export type ItemOutcome = FromSchema<typeof itemOutcomeSchema>;
export type BatchSummary = FromSchema<typeof batchSummarySchema>;
export type AudioJobState = FromSchema<typeof audioJobSchema>;
export type AudioJobStateName = (typeof AUDIO_JOB_STATES)[number];
