import { FORMATS, formatProblem, optionProblems, optionProperties, type ConvertRequest } from '../../core/audio/index.ts';
import { SwitchboardError } from '../../core/errors.ts';
import { defineStep } from '../../core/plugins/types.ts';

export interface ConvertAudioOptions {
  input: string;
  output?: string;
  to?: string;
  rate?: ConvertRequest['rate'];
  channels?: ConvertRequest['channels'];
  bits?: ConvertRequest['bits'];
  codec?: ConvertRequest['codec'];
  gain?: number;
  normalise?: boolean | number;
  trim_silence?: boolean;
  on_exists?: ConvertRequest['onExists'];
  wait: boolean;
}

const { trimSilence, onExists, ...shared } = optionProperties;

/** Where the output goes: `output`, or the input with the `to` extension. */
function outputOf(o: Pick<ConvertAudioOptions, 'input' | 'output' | 'to'>): string {
  return o.output ?? `${o.input.replace(/\.[A-Za-z0-9]{1,8}$/, '')}.${o.to as string}`;
}

/** The step's snake_case options as the converter's request. */
function requestOf(o: ConvertAudioOptions): ConvertRequest {
  const { input, output: _o, to: _t, wait: _w, trim_silence, on_exists, ...rest } = o;
  return { ...rest, input, output: outputOf(o), ...(trim_silence !== undefined ? { trimSilence: trim_silence } : {}), ...(on_exists !== undefined ? { onExists: on_exists } : {}) };
}

export default defineStep<ConvertAudioOptions>({
  meta: {
    name: 'convert-audio',
    version: '1.0.0',
    engine: '^0.1',
    description:
      'Converts an audio file (a recording from record, a prompt…) to another format, rate or level with sox: now (wait: true), or queued for an audio worker while the flow goes on (wait: false). Works in on_hangup. Result: ${steps.<id>.file}, .seconds, .rate, .channels, .bytes, .sha256 (or .job when queued).',
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['input'],
      properties: {
        input: { type: 'string', minLength: 1, description: 'The file to convert, e.g. "${steps.vm.file}"; relative paths are under the first audio root (SB_AUDIO_ROOTS: by default the recordings folder). Its extension names its format.' },
        output: { type: 'string', minLength: 1, description: 'Where the result goes (written atomically); its extension names the format. Or give `to`.' },
        to: { enum: [...FORMATS.keys()], description: 'Output format: the output is the input with this extension.' },
        ...shared,
        trim_silence: trimSilence,
        on_exists: onExists,
        wait: { type: 'boolean', default: true, description: 'false: queue the conversion (Redis) and go on at once; the result then holds the job id.' },
      },
    },
    check(options) {
      const o = options as Partial<ConvertAudioOptions>;
      if ((o.output === undefined) === (o.to === undefined)) return ['give either output or to'];
      // A templated output names its format only at run time; the converter checks it then.
      if (o.output?.includes('${')) return [];
      const format = formatProblem(o.output ?? `x.${o.to as string}`, '/output');
      if ('code' in format) return [format.message];
      return optionProblems(format, requestOf({ input: 'x', ...o } as ConvertAudioOptions)).map((p) => `${p.pointer.slice(1)} ${p.message}`);
    },
  },
  create: ({ services, log }) => ({
    async run(o, signal) {
      const audio = services.audio;
      if (!audio) throw new SwitchboardError('SB_AUDIO_UNAVAILABLE', ['this flow runner has no audio converter']);
      const request = requestOf(o);
      if (!o.wait) {
        const { jobId } = await audio.enqueue(request);
        log.info({ input: request.input, output: request.output, jobId }, 'audio conversion queued');
        return { outcome: 'ok', job: jobId, file: audio.absolute(request.output) };
      }
      const r = await audio.convert(request, signal);
      log.info({ input: r.input, output: r.output, seconds: r.duration, ms: r.ms }, 'audio converted');
      return { outcome: 'ok', file: r.output, seconds: r.duration, rate: r.rate, channels: r.channels, bytes: r.bytes, sha256: r.sha256, status: r.status };
    },
  }),
});
