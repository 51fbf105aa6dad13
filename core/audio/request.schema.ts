/**
 * What a conversion request looks like, as JSON Schema (draft-07): the one definition the REST
 * API publishes and validates with, the queue checks jobs against, and the `convert-audio` step
 * takes its option schemas from. The TypeScript types are derived from it below.
 */
import type { FromSchema } from '../queue/index.ts';
import { FORMATS, RATES } from './formats.ts';

/** Paths: any bytes a file name may hold except NUL (spaces, quotes, newlines, a leading `-` are fine). */
const path = { type: 'string', minLength: 1, maxLength: 4096, pattern: '^[^\\u0000]+$' } as const;

const writable = [...FORMATS.values()].map((f) => f.ext);

/** The conversion options, shared by single and batch requests (and the step, under snake_case names). */
export const optionProperties = {
  rate: { enum: RATES, description: 'Output sample rate in Hz (default: the input\'s, or the format\'s fixed rate).' },
  channels: { enum: [1, 2], description: 'Output channels (stereo is mixed down to mono with 1).' },
  bits: { enum: [8, 16, 24, 32], description: 'PCM bit depth (WAV, FLAC).' },
  codec: { enum: ['pcm', 'mulaw', 'alaw', 'gsm'], description: 'WAV codec: pcm (default), mulaw or alaw (8-bit, G.711), gsm (GSM 06.10, 8 kHz mono).' },
  gain: { type: 'number', minimum: -60, maximum: 60, description: 'Gain in dB.' },
  normalise: {
    anyOf: [{ type: 'boolean' }, { type: 'number', minimum: -60, maximum: 0 }],
    description: 'Scale so the loudest peak is at this level in dBFS (true: -1). Not with gain.',
  },
  trimSilence: { type: 'boolean', description: 'Cut silence (below -45 dBFS) at the start and the end.' },
  onExists: { enum: ['error', 'overwrite', 'skip'], description: 'When the output exists: fail (default), replace it, or keep it and report it skipped.' },
} as const;

export const convertRequestSchema = {
  $id: 'https://switchboard.dev/schemas/audio-convert.json',
  title: 'Convert one audio file',
  type: 'object',
  additionalProperties: false,
  required: ['input', 'output'],
  properties: {
    input: { ...path, description: 'The file to convert; relative paths are under the first audio root. Its format is its extension.' },
    output: { ...path, description: 'Where the result goes (written atomically); its extension names the format.' },
    ...optionProperties,
  },
} as const;

export const batchRequestSchema = {
  $id: 'https://switchboard.dev/schemas/audio-batch.json',
  title: 'Convert many audio files',
  type: 'object',
  additionalProperties: false,
  required: ['batch', 'to'],
  properties: {
    batch: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dir: { ...path, description: 'A folder: every audio file in it (or those matching glob).' },
        glob: { type: 'string', minLength: 1, maxLength: 256, description: 'Relative to dir: `*.gsm`, `2025-*/**/*.wav` (`*`, `?`, `**`, `[…]`, `{a,b}`).' },
        recursive: { type: 'boolean', description: 'Also the sub-folders of dir (implied by a glob with `/` or `**`).' },
        files: { type: 'array', minItems: 1, maxItems: 10_000, items: path, description: 'Or a list of files.' },
      },
      description: 'Which files: `dir` (with `glob`, `recursive`), or `files`.',
    },
    to: { enum: writable, description: 'Output format (extension).' },
    outDir: { ...path, description: 'Where the outputs go (sub-folders kept); default: beside each input.' },
    ...optionProperties,
  },
} as const;

/** Either shape, as the REST API documents `POST /v1/audio/convert`. */
export const audioRequestSchema = {
  title: 'Audio conversion request',
  description: 'One file (`input`, `output`) or a batch (`batch`, `to`), with the same conversion options.',
  anyOf: [convertRequestSchema, batchRequestSchema],
} as const;

export type ConvertOptions = FromSchema<{ type: 'object'; properties: typeof optionProperties }>;
export type ConvertRequest = FromSchema<typeof convertRequestSchema>;
export type BatchRequest = FromSchema<typeof batchRequestSchema>;
export type AudioRequest = ConvertRequest | BatchRequest;

export function isBatchRequest(r: AudioRequest): r is BatchRequest {
  return 'batch' in r;
}
