import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { SwitchboardError } from '../../core/errors.ts';
import { SpeechPlayer } from '../../core/media/index.ts';
import { NOVA_2_SONIC, NOVA_MODELS, NOVA_SONIC_V1, voiceProblem } from '../../core/nova/index.ts';
import { defineStep } from '../../core/plugins/types.ts';
import { soundPath } from '../play/play-files.ts';
import { Conversation, type ToolChoice } from './conversation.ts';

export interface NovaOptions {
  model: string;
  voice: string;
  prompt?: string;
  prompt_file?: string;
  language?: string;
  tools: Array<string | Record<string, Record<string, unknown>>>;
  greeting?: string | { text: string };
  max_duration: number;
  sample_rate?: 8000 | 16000;
  frame_ms: number;
  renew_after: number;
  stall_timeout: number;
}

/** `tools: [datetime, { lookup_caller: { file: x.csv } }]` → name and options. */
function toolEntries(tools: NovaOptions['tools'] | undefined): Array<[string, Record<string, unknown>]> {
  return (tools ?? []).map((t) => (typeof t === 'string' ? [t, {}] : (Object.entries(t)[0] as [string, Record<string, unknown>])));
}

export default defineStep<NovaOptions>({
  meta: {
    name: 'nova',
    version: '1.0.0',
    engine: '^0.1',
    description: 'Hands the caller to Amazon Nova Sonic (speech to speech): the call\'s audio streams through mod_audio_stream, the model answers with its voice, calls tools, and ends with an outcome (a tool\'s, timeout or error).',
    needsAnswer: true,
    openOutcomes: true,
    outcomes: ['hangup', 'transfer', 'timeout'],
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        model: { enum: [NOVA_SONIC_V1, NOVA_2_SONIC], default: NOVA_SONIC_V1 },
        voice: { type: 'string', default: 'matthew', description: 'A voice of the model (v1: tiffany, matthew, amy, …).' },
        prompt: { type: 'string', minLength: 1, description: 'The system prompt.' },
        prompt_file: { type: 'string', description: 'Read the system prompt from a file (relative to the flows folder).' },
        language: { type: 'string', description: 'Asks the model to speak this language (added to the prompt).' },
        tools: {
          type: 'array',
          default: [],
          items: { anyOf: [{ type: 'string' }, { type: 'object', minProperties: 1, maxProperties: 1 }] },
          description: 'Tool plugins the model may call: a name, or { name: options }.',
        },
        greeting: {
          description: 'A file played before the model listens, or { text } for Nova 2 to speak first.',
          anyOf: [{ type: 'string', minLength: 1 }, { type: 'object', additionalProperties: false, required: ['text'], properties: { text: { type: 'string', minLength: 1 } } }],
        },
        max_duration: { type: 'number', exclusiveMinimum: 0, maximum: 86400, default: 1800, description: 'Seconds; then outcome timeout.' },
        sample_rate: { enum: [8000, 16000], description: 'Audio rate both ways (default: the call\'s codec rate when 8 or 16 kHz, else 16000), so nothing is resampled.' },
        frame_ms: { type: 'integer', minimum: 20, maximum: 200, multipleOf: 20, default: 40, description: 'Caller audio per Nova event (see docs/performance.md: CPU vs latency).' },
        renew_after: { type: 'number', exclusiveMinimum: 0, maximum: 460, default: 390, description: 'Seconds before the Nova session is renewed at a pause (its streams end at 8 minutes).' },
        stall_timeout: { type: 'number', exclusiveMinimum: 0, maximum: 120, default: 15, description: 'Seconds without any answer from Nova while the caller talks before the step fails (SB_NOVA_STALLED).' },
      },
    },
    check(o, { tools }) {
      const problems: string[] = [];
      const model = (o.model as string | undefined) ?? NOVA_SONIC_V1;
      const voiceId = (o.voice as string | undefined) ?? 'matthew';
      const voice = voiceId.includes('${') ? null : voiceProblem(model, voiceId); // a template is checked once rendered
      if (voice) problems.push(voice);
      if (o.prompt === undefined && o.prompt_file === undefined) problems.push('needs a prompt (or prompt_file)');
      if (typeof o.greeting === 'object' && !NOVA_MODELS[model]?.canSpeakFirst) problems.push(`greeting: { text } needs a model that can speak first (${NOVA_2_SONIC}); with ${model} play a file instead`);
      for (const [name, options] of toolEntries(o.tools as NovaOptions['tools'])) {
        const tool = tools.get(name);
        if (!tool) problems.push(`unknown tool "${name}" (installed: ${[...tools.keys()].join(', ') || 'none'})`);
        else if (tool.validateOptions && !tool.validateOptions(options)) {
          const e = tool.validateOptions.errors?.[0];
          problems.push(`tool "${name}": options${e?.instancePath ? ` ${e.instancePath}` : ''} ${e?.message ?? 'are invalid'}`);
        }
      }
      return problems;
    },
  },
  create: (ctx) => ({
    async run(o, signal) {
      const { call, services, log, config } = ctx;
      const badVoice = voiceProblem(o.model, o.voice);
      if (badVoice) throw new SwitchboardError('SB_FLOW_BAD_OPTION', [`step "${ctx.step.id}": ${badVoice}`]);
      const media = services.media;
      if (!media) throw new SwitchboardError('SB_STEP_FAILED', ['nova', 'the media server is not running (SB_MEDIA_PORT)']);
      const rate: 8000 | 16000 = o.sample_rate ?? (call.data.sampleRate === 8000 ? 8000 : 16000);
      const tools = new Map<string, ToolChoice>();
      for (const [name, options] of toolEntries(o.tools)) {
        const tool = services.tools.get(name);
        if (tool) tools.set(name, { tool, options });
      }
      let prompt = o.prompt ?? readFileSync(isAbsolute(o.prompt_file ?? '') ? (o.prompt_file as string) : resolve(config.flowsDir, o.prompt_file ?? ''), 'utf8');
      if (o.language) prompt += `\nSpeak ${o.language}.`;

      if (typeof o.greeting === 'string') await call.playback(soundPath(o.greeting, config.soundsDir), { signal });

      await call.subscribe('mod_audio_stream::play', 'mod_audio_stream::error');
      const issued = media.issue(call.id, { sampleRate: rate });
      const streaming = media.waitForStream(call.id, { token: issued.token, signal, timeoutMs: 10_000 });
      const refused = call.waitFor('mod_audio_stream::error', { signal }).then((e) => {
        throw new SwitchboardError('SB_MEDIA_REFUSED', [call.id, e.body ?? 'mod_audio_stream reported an error']);
      });
      refused.catch(() => {});
      await call.setVar('STREAM_EXTRA_HEADERS', JSON.stringify(issued.headers));
      await call.startAudioStream(issued.url, { rate: rate, metadata: JSON.stringify({ callId: call.id }) });
      const stream = await Promise.race([streaming, refused]);

      const player = new SpeechPlayer({ call, stream, sampleRate: rate, logger: log });
      const conversation = new Conversation({
        call,
        stream,
        player,
        tools,
        log,
        signal,
        config,
        renewAfterMs: o.renew_after * 1000,
        renewByMs: Math.min(460, o.renew_after + 60) * 1000,
        session: { client: services.nova(), modelId: o.model, voiceId: o.voice, systemPrompt: prompt, inputSampleRate: rate, outputSampleRate: rate, frameMs: o.frame_ms, idleTimeoutMs: o.stall_timeout * 1000, logger: log },
      });
      await player.start();
      const maxTimer = setTimeout(() => conversation.end({ outcome: 'timeout' }), o.max_duration * 1000);
      const onAbort = (): void => conversation.end({ outcome: 'hangup' });
      signal.addEventListener('abort', onAbort, { once: true });
      services.metrics?.novaSessions.inc();
      try {
        await conversation.start();
        if (typeof o.greeting === 'object') conversation.speakFirst(o.greeting.text);
        const end = await conversation.done;
        if (signal.aborted) throw signal.reason ?? new SwitchboardError('SB_CALL_GONE', [call.id]);
        const transcript = conversation.transcript.map((t) => `${t.role === 'USER' ? 'caller' : 'bot'}: ${t.text}`).join('\n');
        if (end.error) throw end.error; // the runner logs it once and takes on: { error } / on_error

        const fields = end.result !== null && typeof end.result === 'object' && !Array.isArray(end.result) ? (end.result as Record<string, unknown>) : {};
        return { ...fields, outcome: end.outcome, tool: end.tool, transcript, renewals: conversation.renewals };
      } finally {
        services.metrics?.novaSessions.dec();
        clearTimeout(maxTimer);
        signal.removeEventListener('abort', onAbort);
        await conversation.close();
        player.close();
        if (!call.isGone) await call.stopAudioStream().catch(() => {});
      }
    },
  }),
});
