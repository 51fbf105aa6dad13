import { Ajv, type ErrorObject } from 'ajv';
import { SwitchboardError, type ErrorCode } from '../errors.ts';
import { FORMATS, extensionOf, type AudioFormat } from './formats.ts';
import { batchRequestSchema, convertRequestSchema, type AudioRequest, type BatchRequest, type ConvertOptions, type ConvertRequest } from './request.schema.ts';

/** One problem with a request: where (JSON pointer), what, and the code it is reported with. */
export interface RequestProblem {
  pointer: string;
  message: string;
  code: ErrorCode;
  /** The code's message arguments, when it is not SB_AUDIO_BAD_OPTION. */
  args?: string[];
}

// Not fastify's ajv: that one removes unknown properties, and an unknown option must be refused.
const ajv = new Ajv({ allErrors: true, strict: false });
const checkSingle = ajv.compile(convertRequestSchema);
const checkBatch = ajv.compile(batchRequestSchema);

const known = (): string => [...FORMATS.keys()].join(', ');

function fromAjv(err: ErrorObject): RequestProblem {
  const params = err.params as Record<string, unknown>;
  let pointer = err.instancePath;
  let message = err.message ?? 'is invalid';
  if (err.keyword === 'required') pointer += `/${String(params.missingProperty)}`;
  if (err.keyword === 'additionalProperties') {
    pointer += `/${String(params.additionalProperty).replace(/~/g, '~0').replace(/\//g, '~1')}`;
    message = 'is not a known option';
  }
  if (err.keyword === 'enum') message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  if (err.keyword === 'pattern' && pointer.length > 0) message = 'must not contain a NUL byte';
  return { pointer: pointer || '/', message, code: 'SB_AUDIO_BAD_OPTION' };
}

/** The format a path names, or the problem with it (an unknown extension). */
export function formatProblem(path: string, pointer: string): RequestProblem | AudioFormat {
  const ext = extensionOf(path);
  const format = ext === undefined ? undefined : FORMATS.get(ext);
  if (!format) return { pointer, message: `${path}: not an audio format Switchboard converts (known: ${known()})`, code: 'SB_AUDIO_UNKNOWN_FORMAT', args: [path, known()] };
  return format;
}

/** What the schema cannot say: which options the output format takes, and what excludes what. */
export function optionProblems(format: AudioFormat, o: ConvertOptions): RequestProblem[] {
  const out: RequestProblem[] = [];
  const bad = (name: string, message: string): void => void out.push({ pointer: `/${name}`, message: `${message} (output format ${format.ext})`, code: 'SB_AUDIO_BAD_OPTION' });
  if (o.codec !== undefined && !format.codecs.includes(o.codec)) bad('codec', format.codecs.length > 0 ? `must be one of ${format.codecs.join(', ')}` : 'is not selectable: the format is its own codec');
  const codec = o.codec ?? format.codecs[0];
  if (o.bits !== undefined) {
    if (codec === 'mulaw' || codec === 'alaw') {
      if (o.bits !== 8) bad('bits', `must be 8 with codec ${codec}`);
    } else if (!format.bits || codec === 'gsm') bad('bits', 'is not selectable');
    else if (!format.bits.includes(o.bits)) bad('bits', `must be one of ${format.bits.join(', ')}`);
  }
  const fixedRate = codec === 'gsm' ? 8000 : format.fixedRate;
  const fixedChannels = codec === 'gsm' ? 1 : format.fixedChannels;
  if (o.rate !== undefined) {
    if (fixedRate !== undefined && o.rate !== fixedRate) bad('rate', `must be ${fixedRate}`);
    else if (format.rates && !format.rates.includes(o.rate)) bad('rate', `must be one of ${format.rates.join(', ')}`);
  }
  if (o.channels !== undefined && fixedChannels !== undefined && o.channels !== fixedChannels) bad('channels', `must be ${fixedChannels}`);
  if (o.gain !== undefined && o.normalise !== undefined && o.normalise !== false) out.push({ pointer: '/normalise', message: 'cannot be combined with gain (normalising sets the level itself)', code: 'SB_AUDIO_BAD_OPTION' });
  return out;
}

/** Every problem with a candidate request, schema first. */
export function requestProblems(input: unknown): RequestProblem[] {
  const batch = typeof input === 'object' && input !== null && 'batch' in input;
  const check = batch ? checkBatch : checkSingle;
  if (!check(input)) return (check.errors ?? []).map(fromAjv);
  const problems: RequestProblem[] = [];
  if (batch) {
    const r = input as BatchRequest;
    const { dir, files, glob, recursive } = r.batch;
    if ((dir === undefined) === (files === undefined)) problems.push({ pointer: '/batch', message: 'needs either dir or files', code: 'SB_AUDIO_BAD_OPTION' });
    if (files !== undefined && (glob !== undefined || recursive !== undefined)) problems.push({ pointer: glob !== undefined ? '/batch/glob' : '/batch/recursive', message: 'only applies to dir', code: 'SB_AUDIO_BAD_OPTION' });
    const format = formatProblem(`x.${r.to}`, '/to');
    if ('code' in format) problems.push(format);
    else problems.push(...optionProblems(format, r));
    return problems;
  }
  const r = input as ConvertRequest;
  const inFormat = formatProblem(r.input, '/input');
  if ('code' in inFormat) problems.push(inFormat);
  const outFormat = formatProblem(r.output, '/output');
  if ('code' in outFormat) problems.push(outFormat);
  else problems.push(...optionProblems(outFormat, r));
  return problems;
}

/** The request, checked; throws the first problem's code with its JSON pointer (all of them in context.problems). */
export function checkRequest(input: unknown): AudioRequest {
  const problems = requestProblems(input);
  const first = problems[0];
  if (first === undefined) return input as AudioRequest;
  throw problemError(first, problems);
}

export function problemError(first: RequestProblem, problems: RequestProblem[] = [first]): SwitchboardError {
  const context = { pointer: first.pointer, problems: problems.map(({ pointer, message }) => ({ pointer, message })) };
  if (first.code !== 'SB_AUDIO_BAD_OPTION' && first.args) return new SwitchboardError(first.code, first.args, context);
  return new SwitchboardError('SB_AUDIO_BAD_OPTION', [problems.map((p) => `${p.pointer} ${p.message}`).join('; ')], context);
}
