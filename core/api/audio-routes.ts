import type { FastifyInstance } from 'fastify';
import { audioJobSchema, batchRequestSchema, checkRequest, convertRequestSchema, type AudioRequest } from '../audio/index.ts';
import { SwitchboardError } from '../errors.ts';
import type { Service } from '../service.ts';
import { ERROR_RESPONSES } from './schemas.ts';

const strip = <T extends { $id: string }>({ $id: _id, ...rest }: T): Omit<T, '$id'> => rest;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'The job id POST /v1/audio/convert returned.' } },
} as const;

/** Audio conversion jobs on the `audio` queue (core/audio): queue one, read one. */
export function registerAudioRoutes(app: FastifyInstance, service: Service): void {
  app.post<{ Body: AudioRequest }>(
    '/v1/audio/convert',
    {
      schema: {
        tags: ['audio'],
        summary: 'Queue an audio conversion: one file, or a batch',
        description:
          'One file: `input`, `output` (formats by extension: wav, gsm, r8, r16, r24, r32, r48, ul, al, mp3, ogg, flac). A batch: `batch` (`dir` with an optional `glob`, or `files`) and `to`. Options: rate, channels, bits, codec, gain, normalise, trimSilence, onExists. Paths must lie inside the audio roots (SB_AUDIO_ROOTS): a path outside is 403 SB_AUDIO_OUTSIDE_ROOTS before anything is queued. A worker where the files are converts it; 202 with the job id, then GET /v1/audio/jobs/{id}.',
        body: { anyOf: [strip(convertRequestSchema), strip(batchRequestSchema)] },
        response: {
          202: {
            type: 'object',
            required: ['jobId', 'kind', 'state'],
            properties: { jobId: { type: 'string' }, kind: { enum: ['convert', 'batch'] }, state: { enum: ['queued'] } },
          },
          ...ERROR_RESPONSES,
        },
      },
      // The schema says "matches neither shape"; the request checker says which field and why, with the audio error codes.
      config: { explainBody: checkRequest },
    },
    async (req, reply) => {
      const queue = service.audio?.queue;
      if (!queue) throw new SwitchboardError('SB_AUDIO_UNAVAILABLE', ['queued conversions need Redis (REDIS_URL)']);
      const { jobId, kind } = await queue.add(req.body);
      return reply.code(202).send({ jobId, kind, state: 'queued' });
    },
  );

  app.get<{ Params: { id: string }; Querystring: { items: 'all' | 'failed' | 'none' } }>(
    '/v1/audio/jobs/:id',
    {
      schema: {
        tags: ['audio'],
        summary: 'An audio job: state, progress, result or failure',
        description: 'A single conversion carries its measured result (duration, rate, channels, bits, bytes, sha256); a batch its summary and each file\'s outcome (`items`: all, only the failed ones, or none). A failed job keeps its reason (`error.code`, `error.message`) for the retention period.',
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { items: { enum: ['all', 'failed', 'none'], default: 'all', description: 'Which files of a batch to list.' } },
        },
        response: { 200: audioJobSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const queue = service.audio?.queue;
      if (!queue) throw new SwitchboardError('SB_AUDIO_UNAVAILABLE', ['audio jobs need Redis (REDIS_URL)']);
      const job = await queue.get(req.params.id, { items: req.query.items });
      if (!job) throw new SwitchboardError('SB_AUDIO_JOB_NOT_FOUND', [req.params.id]);
      return job;
    },
  );
}
