/**
 * NovaSession against the Nova Sonic emulator, through the real @aws-sdk/client-bedrock-runtime
 * over h2c. Every wait is for the event that proves the point, with a timeout; nothing sleeps.
 */
import { createServer } from 'node:net';
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { isSwitchboardError, type ErrorCode, type SwitchboardError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import {
  NovaEmulator, silence, tone, type EmulatedSession, type NovaEmulatorOptions, type StreamExceptionType,
} from '../../test/support/nova-emulator/index.ts';
import { NovaSession, type NovaSessionEvents, type NovaSessionOptions } from './session.ts';
import { createNovaClient } from './client.ts';

const V1 = 'amazon.nova-sonic-v1:0';
const V2 = 'amazon.nova-2-sonic-v1:0';

/** Deterministic PCM that is not a tone, so byte equality means the bytes went through untouched. */
function pattern(bytes: number, seed = 0): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + (i >> 7) + seed) & 0xff;
  return b;
}

/** `pcm` cut into `ms`-long frames at `rate`. */
function frames(pcm: Buffer, ms = 20, rate = 16000): Buffer[] {
  const n = (rate / 1000) * ms * 2;
  const out: Buffer[] = [];
  for (let off = 0; off < pcm.length; off += n) out.push(pcm.subarray(off, off + n));
  return out;
}

const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

interface Fixture {
  emu: NovaEmulator;
  client: BedrockRuntimeClient;
}

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of open.splice(0).reverse()) await f();
});

/** The production client (createNovaClient: its own event-stream framing and signing) against the emulator. */
async function fixture(options: NovaEmulatorOptions = {}, clientOptions: { requestTimeout?: number; sessionTimeout?: number } = {}): Promise<Fixture> {
  const emu = await NovaEmulator.start(options);
  const client = createNovaClient({
    endpoint: emu.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'emulator', secretAccessKey: 'emulator' }, logger: silentLogger,
    requestTimeoutMs: clientOptions.requestTimeout, sessionTimeoutMs: clientOptions.sessionTimeout,
  });
  open.push(async () => {
    client.destroy();
    await emu.close();
  });
  return { emu, client };
}

/** Every event a session emits, in order, and promises for the ones a test waits on. */
class Recorder {
  readonly log: Array<{ name: keyof NovaSessionEvents; args: unknown[] }> = [];
  private waiters: Array<{ name: string; pred: (args: unknown[]) => boolean; resolve: (args: unknown[]) => void }> = [];

  constructor(readonly session: NovaSession) {
    const names: Array<keyof NovaSessionEvents> = ['audio', 'text', 'toolUse', 'interrupted', 'turnEnd', 'usage', 'error', 'closed'];
    for (const name of names) {
      (session.on as (n: string, l: (...a: unknown[]) => void) => void)(name, (...args: unknown[]) => {
        this.log.push({ name, args });
        this.waiters = this.waiters.filter((w) => {
          if (w.name !== name || !w.pred(args)) return true;
          w.resolve(args);
          return false;
        });
      });
    }
  }

  names(): string[] {
    return this.log.map((e) => e.name);
  }

  all<K extends keyof NovaSessionEvents>(name: K): Array<NovaSessionEvents[K][0]> {
    return this.log.filter((e) => e.name === name).map((e) => e.args[0] as NovaSessionEvents[K][0]);
  }

  /** The first `name` event (already seen or still to come) whose first argument satisfies `pred`. */
  waitFor<K extends keyof NovaSessionEvents>(name: K, pred: (arg: NovaSessionEvents[K][0]) => boolean = () => true, timeoutMs = 5000): Promise<NovaSessionEvents[K][0]> {
    const p = (args: unknown[]): boolean => pred(args[0] as NovaSessionEvents[K][0]);
    const seen = this.log.find((e) => e.name === name && p(e.args));
    if (seen) return Promise.resolve(seen.args[0] as NovaSessionEvents[K][0]);
    return new Promise((resolve, reject) => {
      const w = { name, pred: p, resolve: (args: unknown[]) => { clearTimeout(timer); resolve(args[0] as NovaSessionEvents[K][0]); } };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no '${name}' within ${timeoutMs} ms; got ${this.names().join(',')}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async error(): Promise<SwitchboardError> {
    const err = await this.waitFor('error');
    await this.waitFor('closed');
    return err;
  }
}

function session(client: BedrockRuntimeClient, overrides: Partial<NovaSessionOptions> = {}): { s: NovaSession; r: Recorder } {
  const s = new NovaSession({
    client, modelId: V1, voiceId: 'tiffany', systemPrompt: 'You are a receptionist.',
    inputSampleRate: 16000, outputSampleRate: 8000, logger: silentLogger, ...overrides,
  });
  return { s, r: new Recorder(s) };
}

function sendAll(s: NovaSession, pcm: Buffer, ms = 20, rate = 16000): void {
  for (const f of frames(pcm, ms, rate)) s.sendAudio(f);
}

const SILENCE_320 = silence(320, 16000);
const ofType = (type: string) => (b: Record<string, unknown>): boolean => b.type === type;

describe('NovaSession: a conversation', () => {
  it('sends the setup in Nova order, relays the scripted audio and text, and closes in order', async () => {
    const scripted = pattern(8000 * 2 * 0.25); // 250 ms at 8 kHz
    const { emu, client } = await fixture({
      script: {
        turnDetection: { afterAudioMs: 320 },
        reply: [{ userTranscript: 'what time is it', text: 'It is noon.', audio: scripted }],
        audioPacing: { chunkMs: 40, speed: Infinity },
      },
    });
    const { s, r } = session(client);
    await s.start();
    expect(s.state).toBe('open');
    sendAll(s, SILENCE_320);
    const end = await r.waitFor('turnEnd', (e) => e.role === 'ASSISTANT');
    expect(end.stopReason).toBe('END_TURN');

    expect(Buffer.concat(r.all('audio')).equals(scripted)).toBe(true);
    expect(s.stats.audioOutBytes).toBe(scripted.length);
    expect(r.all('text')).toEqual([
      { role: 'USER', text: 'what time is it', final: true },
      { role: 'ASSISTANT', text: 'It is noon.', final: false },
      { role: 'ASSISTANT', text: 'It is noon.', final: true },
    ]);
    expect(s.transcript).toEqual([{ role: 'USER', text: 'what time is it' }, { role: 'ASSISTANT', text: 'It is noon.' }]);
    expect(r.all('turnEnd')).toEqual([{ role: 'USER', stopReason: 'END_TURN' }, { role: 'ASSISTANT', stopReason: 'END_TURN' }]);
    const usage = await r.waitFor('usage');
    expect(usage.totalTokens).toBeGreaterThan(0);

    await s.close();
    expect(s.state).toBe('closed');
    expect(r.names().at(-1)).toBe('closed');
    expect(r.all('closed')).toEqual([{ reason: 'ended' }]);
    expect(r.all('error')).toEqual([]);

    const e = await emu.waitForSession();
    await e.waitForClose();
    expect(e.closeReason).toBe('session-end');
    expect(e.inputEnded).toBe(true);
    const names = e.events.map((x) => x.name);
    expect(names.slice(0, 6)).toEqual(['sessionStart', 'promptStart', 'contentStart', 'textInput', 'contentEnd', 'contentStart']);
    expect(names.slice(-3)).toEqual(['contentEnd', 'promptEnd', 'sessionEnd']);
    expect(e.events[0]!.event.sessionStart).toEqual({ inferenceConfiguration: { maxTokens: 1024, topP: 0.9, temperature: 0.7 } });
    expect(e.prompt).toMatchObject({ voiceId: 'tiffany', outputSampleRate: 8000, promptName: s.promptName });
    expect(e.events[5]!.event.contentStart).toMatchObject({ type: 'AUDIO', role: 'USER', interactive: true, audioInputConfiguration: { sampleRateHertz: 16000 } });
    expect(e.systemPrompt).toBe('You are a receptionist.');
    expect(e.audioInBytes).toBe(SILENCE_320.length);
    expect(e.audioInEvents).toBe(2); // 16 frames of 20 ms sent at once: 8 batches of 40 ms, waiting, leave as events of ≤ 200 ms
    expect(e.crcErrors).toBe(0);
  });

  it.each([
    { frameMs: 40, frameIn: 20, count: 50, batches: 25, events: 5 },
    { frameMs: 20, frameIn: 20, count: 10, batches: 10, events: 1 },
    { frameMs: 100, frameIn: 20, count: 50, batches: 10, events: 5 },
  ])('batches $count frames of $frameIn ms into $batches batches of frameMs $frameMs; sent at once, they leave as $events events of ≤ 200 ms, bytes intact and in order', async ({ frameMs, frameIn, count, batches, events }) => {
    const { emu, client } = await fixture({ recordAudio: true, script: { reply: 'silent' } });
    let taken = 0;
    const { s } = session(client, { frameMs, onAudioSent: () => taken++ });
    await s.start();
    const input = pattern(count * frameIn * 32, frameMs);
    sendAll(s, input, frameIn);
    await s.close();
    const e = await emu.waitForSession();
    const audio = e.events.filter((x) => x.name === 'audioInput').map((x) => Buffer.from((x.event.audioInput as { content: string }).content, 'base64'));
    expect(taken).toBe(batches);
    expect(audio).toHaveLength(events);
    for (const a of audio) {
      expect(a.length % (frameMs * 32)).toBe(0); // whole batches only
      expect(a.length).toBeLessThanOrEqual(Math.max(frameMs, 200) * 32);
    }
    expect(Buffer.concat(audio).equals(input)).toBe(true);
    expect(s.stats).toMatchObject({ audioEventsSent: events, audioBytesSent: input.length, framesDropped: 0 });
  });

  it('sends one event per batch while the SDK keeps up', async () => {
    const { emu, client } = await fixture({ recordAudio: true, script: { reply: 'silent' } });
    let taken: () => void = () => undefined;
    const { s } = session(client, { frameMs: 40, onAudioSent: () => taken() });
    await s.start();
    const input = pattern(10 * 1280);
    for (let i = 0; i < 10; i++) {
      const took = new Promise<void>((resolve) => (taken = resolve));
      for (const f of frames(input.subarray(i * 1280, (i + 1) * 1280))) s.sendAudio(f);
      await took;
    }
    await s.close();
    const e = await emu.waitForSession();
    const audio = e.events.filter((x) => x.name === 'audioInput').map((x) => Buffer.from((x.event.audioInput as { content: string }).content, 'base64'));
    expect(audio.map((a) => a.length)).toEqual(Array(10).fill(1280));
    expect(Buffer.concat(audio).equals(input)).toBe(true);
  });

  it('sends the remainder of a batch on close, and carries an odd byte until a whole sample is there', async () => {
    const { emu, client } = await fixture({ recordAudio: true, script: { reply: 'silent' } });
    let taken: () => void = () => undefined;
    const { s } = session(client, { frameMs: 40, onAudioSent: () => taken() });
    await s.start();
    const input = pattern(1281 + 1279 + 500);
    const send = async (pcm: Buffer): Promise<void> => {
      const took = new Promise<void>((resolve) => (taken = resolve));
      s.sendAudio(pcm);
      await took;
    };
    await send(input.subarray(0, 1281)); // ≥ 40 ms: one event of 1280 bytes, 1 byte carried
    await send(input.subarray(1281, 2560)); // 1 + 1279 = 1280: a second event
    s.sendAudio(input.subarray(2560)); // 500 bytes pending until close
    await s.close();
    const e = await emu.waitForSession();
    const audio = e.events.filter((x) => x.name === 'audioInput').map((x) => Buffer.from((x.event.audioInput as { content: string }).content, 'base64'));
    expect(audio.map((b) => b.length)).toEqual([1280, 1280, 500]);
    expect(Buffer.concat(audio).equals(input)).toBe(true);
    expect(e.exception).toBeNull();
  });

  it('tool use: emits the parsed input, sends the result as TOOL content, and the model answers with it', async () => {
    const { emu, client } = await fixture({
      script: {
        turnDetection: { afterAudioMs: 320 },
        audioPacing: { speed: Infinity },
        reply: [{
          userTranscript: 'what is my balance',
          toolUse: { toolName: 'getBalance', input: { account: '123' }, toolUseId: 'tool-1' },
          text: (ctx) => `Your balance is ${(JSON.parse(ctx.toolResult!) as { balance: number }).balance}.`,
          audio: { ms: 120 },
        }],
      },
    });
    const schema = { type: 'object', properties: { account: { type: 'string' } }, required: ['account'] };
    const { s, r } = session(client, { tools: [{ name: 'getBalance', description: 'The balance of an account', inputSchema: schema }] });
    s.on('toolUse', (use) => s.sendToolResult(use.toolUseId, { balance: 42 }));
    await s.start();
    sendAll(s, SILENCE_320);
    const use = await r.waitFor('toolUse');
    expect(use).toEqual({ toolName: 'getBalance', toolUseId: 'tool-1', input: { account: '123' } });
    const answer = await r.waitFor('text', (t) => t.role === 'ASSISTANT' && t.final);
    expect(answer.text).toBe('Your balance is 42.');
    const e = await emu.waitForSession();
    expect(e.toolResults).toEqual([{ toolUseId: 'tool-1', content: '{"balance":42}' }]);
    const tools = (e.events[1]!.event.promptStart as { toolConfiguration: { tools: Array<{ toolSpec: Record<string, unknown> }> } }).toolConfiguration.tools;
    expect(tools).toEqual([{ toolSpec: { name: 'getBalance', description: 'The balance of an account', inputSchema: { json: JSON.stringify(schema) } } }]);
    const toolStart = e.events.find((x) => x.name === 'contentStart' && (x.event.contentStart as Record<string, unknown>).type === 'TOOL')!;
    expect(toolStart.event.contentStart).toMatchObject({ role: 'TOOL', interactive: false, toolResultInputConfiguration: { toolUseId: 'tool-1', type: 'TEXT' } });
    await s.close();
    expect(r.all('error')).toEqual([]);
  });

  it('barge-in: the caller talks over the model → one interrupted event and an INTERRUPTED turn end', async () => {
    const { emu, client } = await fixture({
      script: {
        turnDetection: { afterAudioMs: 320, bargeIn: { rmsThreshold: 500, minSpeechMs: 60 } },
        reply: [{ text: 'A long answer.', audio: { ms: 3000 } }],
      },
    });
    const { s, r } = session(client);
    await s.start();
    sendAll(s, SILENCE_320);
    await r.waitFor('audio');
    sendAll(s, tone(200, 16000, 300, 8000));
    await r.waitFor('interrupted');
    const end = await r.waitFor('turnEnd', (t) => t.role === 'ASSISTANT');
    expect(end.stopReason).toBe('INTERRUPTED');
    const e = await emu.waitForSession();
    await e.waitForOutput('usageEvent');
    expect(e.interruptions).toBe(1);
    expect(r.all('interrupted')).toHaveLength(1);
    // the marker text is a signal, not something the model said
    expect(r.all('text').some((t) => t.text.includes('interrupted'))).toBe(false);
    expect(s.stats.audioOutBytes).toBeLessThan(3000 * 16);
    await s.close();
  });

  it('replays history as TEXT before the audio, splitting pieces over 1 KB, and starts the transcript with it', async () => {
    const { emu, client } = await fixture({ script: { reply: 'silent' } });
    const long = 'é'.repeat(700); // 1400 bytes: two textInput events
    const history = [{ role: 'USER' as const, text: 'Hi, I called before.' }, { role: 'ASSISTANT' as const, text: long }];
    const { s } = session(client, { history });
    await s.start();
    const e = await emu.waitForSession();
    await e.waitForEvent('contentStart', { where: ofType('AUDIO') });
    expect(e.history).toEqual(history);
    const textInputs = e.events.filter((x) => x.name === 'textInput');
    expect(textInputs).toHaveLength(1 + 1 + 2);
    expect(s.transcript).toEqual(history);
    await s.close();
    expect(e.exception).toBeNull();
  });

  it('Nova 2: sendText makes the model speak first; v1 refuses it with SB_NOVA_UNSUPPORTED', async () => {
    const { client } = await fixture({ script: { reply: [{ text: 'Hello, how can I help?', audio: { ms: 100 } }], audioPacing: { speed: Infinity } } });
    const { s, r } = session(client, { modelId: V2, voiceId: 'olivia' });
    await s.start();
    s.sendText('(the caller has just been connected)');
    const said = await r.waitFor('text', (t) => t.role === 'ASSISTANT' && t.final);
    expect(said.text).toBe('Hello, how can I help?');
    await s.close();

    const v1 = session(client).s;
    await v1.start();
    expect(() => v1.sendText('hello')).toThrow(expect.objectContaining({ code: 'SB_NOVA_UNSUPPORTED' }));
    await v1.close();
  });
});

describe('NovaSession: errors', () => {
  const cases: Array<[StreamExceptionType, ErrorCode]> = [
    ['validationException', 'SB_NOVA_VALIDATION'],
    ['throttlingException', 'SB_NOVA_THROTTLED'],
    ['modelTimeoutException', 'SB_NOVA_MODEL_TIMEOUT'],
    ['modelStreamErrorException', 'SB_NOVA_STREAM'],
    ['internalServerException', 'SB_NOVA_STREAM'],
    ['serviceUnavailableException', 'SB_NOVA_UNAVAILABLE'],
  ];
  const table = cases.flatMap(([exception, code]) => [
    { exception, code, when: 'before any output' as const },
    { exception, code, when: 'mid-stream' as const },
  ]);

  it.each(table)('$exception $when → $code, emitted once, then closed', async ({ exception, code, when }) => {
    const trigger = when === 'before any output' ? { afterInputEvents: 6 } : { afterOutputEvents: 3 };
    const { emu, client } = await fixture({
      script: { turnDetection: { afterAudioMs: 320 }, reply: [{ userTranscript: 'hi', text: 'Hello', audio: { ms: 200 } }], audioPacing: { speed: Infinity }, failure: { exception, message: `scripted ${exception}`, ...trigger } },
    });
    const { s, r } = session(client);
    await s.start();
    sendAll(s, SILENCE_320);
    const err = await r.error();
    expect(err.code).toBe(code);
    expect(err.message).toContain(`scripted ${exception}`);
    expect(err.context).toMatchObject({ modelId: V1 });
    expect(r.all('error')).toHaveLength(1);
    expect(r.names().slice(-2)).toEqual(['error', 'closed']);
    expect(r.all('closed')).toEqual([{ reason: 'error' }]);
    if (when === 'mid-stream') expect(r.all('text').length).toBeGreaterThan(0);
    else expect(r.all('text')).toEqual([]);
    const e = await emu.waitForSession();
    await e.waitForClose();
    expect(s.state).toBe('closed');
    // nothing after the end, and close() is harmless
    s.sendAudio(SILENCE_320);
    await s.close();
    expect(r.names().at(-1)).toBe('closed');
  });

  it.each([
    { status: 429, errorType: 'ThrottlingException', code: 'SB_NOVA_THROTTLED' },
    { status: 403, errorType: 'AccessDeniedException', code: 'SB_NOVA_ACCESS' },
    { status: 400, errorType: 'ValidationException', code: 'SB_NOVA_VALIDATION' },
    { status: 503, errorType: 'ServiceUnavailableException', code: 'SB_NOVA_UNAVAILABLE' },
    { status: 500, errorType: 'InternalServerException', code: 'SB_NOVA_STREAM' },
  ])('refused before the stream with HTTP $status $errorType → $code, and the input is ended', async ({ status, errorType, code }) => {
    const { emu, client } = await fixture({ script: { httpError: { status, errorType, message: 'refused by the test' } } });
    const { s, r } = session(client);
    const started = s.start();
    sendAll(s, SILENCE_320);
    const err = await r.error();
    expect(err.code).toBe(code);
    expect(err.context).toMatchObject({ httpStatus: status, awsError: errorType });
    await started.catch(() => undefined); // either resolved (input taken) or rejected with the same error
    const e = await emu.waitForSession();
    await e.waitForClose();
    expect(e.closeReason).toBe('http-error');
    expect(r.all('closed')).toEqual([{ reason: 'error' }]);
  });

  it('an unknown model id is refused by the service → SB_NOVA_VALIDATION', async () => {
    const { client } = await fixture();
    const { r, s } = session(client, { modelId: 'amazon.nova-sonic-v9:0' });
    void s.start().catch(() => undefined);
    expect((await r.error()).code).toBe('SB_NOVA_VALIDATION');
  });

  it('connection refused → SB_NOVA_UNAVAILABLE', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const client = createNovaClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, logger: silentLogger });
    open.push(async () => client.destroy());
    const { s, r } = session(client);
    void s.start().catch(() => undefined);
    sendAll(s, SILENCE_320);
    const err = await r.error();
    expect(err.code).toBe('SB_NOVA_UNAVAILABLE');
    expect(err.context).toMatchObject({ phase: 'before-output' });
  });

  it('stall: no output while the caller talks → SB_NOVA_STALLED from the watchdog, and the stream is torn down', async () => {
    const { emu, client } = await fixture({ script: { reply: 'silent', failure: { stall: true, afterInputEvents: 1 } } });
    const { s, r } = session(client, { idleTimeoutMs: 300 });
    await s.start();
    const t0 = performance.now();
    sendAll(s, tone(400, 16000, 300, 8000));
    const err = await r.error();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(err.code).toBe('SB_NOVA_STALLED');
    const e = await emu.waitForSession();
    await e.waitForClose();
    expect(e.closeReason).toBe('client-reset');
  });

  it('stall watchdog: a silent caller never trips it, talking does', async () => {
    const { emu, client } = await fixture({ script: { reply: 'silent', failure: { stall: true, afterInputEvents: 1 } } });
    const { s, r } = session(client, { idleTimeoutMs: 60 });
    await s.start();
    const e = await emu.waitForSession();
    // 300 ms of silence fed at real time: five times the idle timeout passes with no output
    const quiet = frames(silence(300, 16000));
    await new Promise<void>((resolve) => {
      const feed = setInterval(() => {
        s.sendAudio(quiet.shift()!);
        if (!quiet.length) {
          clearInterval(feed);
          resolve();
        }
      }, 20);
    });
    await e.waitForEvent('audioInput', { where: () => e.audioInEvents === 7 }); // 15 frames → 7 events + 1 pending
    expect(r.all('error')).toEqual([]);
    expect(s.state).toBe('open');
    sendAll(s, tone(300, 16000, 300, 8000));
    expect((await r.error()).code).toBe('SB_NOVA_STALLED');
  });

  it('a stream that ends without our close (the SDK requestTimeout firing mid-stream) → SB_NOVA_STREAM', async () => {
    const { client } = await fixture(
      { script: { turnDetection: { afterAudioMs: 320 }, reply: [{ text: 'Hi.', audio: { ms: 40 } }], audioPacing: { speed: Infinity } } },
      { requestTimeout: 300 },
    );
    const { s, r } = session(client);
    await s.start();
    sendAll(s, SILENCE_320);
    await r.waitFor('turnEnd', (t) => t.role === 'ASSISTANT');
    // no more audio: both directions idle, the SDK's timer fires and its iterator just ends
    const err = await r.error();
    expect(err.code).toBe('SB_NOVA_STREAM');
    expect(err.message).toMatch(/ended before the session was closed/);
  });

  it('the service ending the stream on its own → SB_NOVA_STREAM', async () => {
    const { client } = await fixture({ script: { turnDetection: { afterAudioMs: 320 }, reply: [{ text: 'Goodbye.', endSession: true }] } });
    const { s, r } = session(client);
    await s.start();
    sendAll(s, SILENCE_320);
    expect((await r.error()).code).toBe('SB_NOVA_STREAM');
  });

  it('the 8-minute limit (time-scaled) → SB_NOVA_MODEL_TIMEOUT, mid-conversation', async () => {
    const { emu, client } = await fixture({
      timeScale: 1 / 1000, // 480 s → 480 ms
      script: { turnDetection: { afterAudioMs: 320 }, reply: [{ text: 'Sure.', audio: { ms: 100 } }], audioPacing: { speed: Infinity } },
    });
    const { s, r } = session(client);
    await s.start();
    sendAll(s, SILENCE_320);
    await r.waitFor('text', (t) => t.final && t.role === 'ASSISTANT');
    const err = await r.error();
    expect(err.code).toBe('SB_NOVA_MODEL_TIMEOUT');
    expect(err.message).toMatch(/maximum duration of 480 s/);
    expect((await emu.waitForSession()).exception?.type).toBe('modelTimeoutException');
  });
});

describe('NovaSession: lifecycle', () => {
  it('close before any output: contentEnd, promptEnd, sessionEnd, then the end of input; later calls are refused', async () => {
    const { emu, client } = await fixture({ script: { reply: 'silent' } });
    const { s, r } = session(client);
    await s.start();
    sendAll(s, SILENCE_320);
    await s.close();
    await s.close();
    const e = await emu.waitForSession();
    await e.waitForClose();
    expect(e.closeReason).toBe('session-end');
    expect(e.inputEnded).toBe(true);
    expect(e.events.slice(-3).map((x) => x.name)).toEqual(['contentEnd', 'promptEnd', 'sessionEnd']);
    expect(r.names()).toEqual(['closed']);
    expect(r.all('closed')).toEqual([{ reason: 'ended' }]);
    expect(() => s.sendToolResult('x', {})).toThrow(expect.objectContaining({ code: 'SB_NOVA_CLOSED' }));
    await expect(s.start()).resolves.toBeUndefined(); // the first start() promise, already settled
    const fresh = session(client).s;
    await fresh.close();
    await expect(fresh.start()).rejects.toMatchObject({ code: 'SB_NOVA_CLOSED' });
  });

  it('abort signal: closed { aborted } without an error; the stream is reset', async () => {
    const { emu, client } = await fixture({ script: { reply: 'silent' } });
    const ac = new AbortController();
    const { s, r } = session(client, { signal: ac.signal });
    await s.start();
    sendAll(s, SILENCE_320);
    const e = await emu.waitForSession();
    await e.waitForEvent('audioInput');
    ac.abort();
    await r.waitFor('closed');
    expect(r.names()).toEqual(['closed']);
    expect(r.all('closed')).toEqual([{ reason: 'aborted' }]);
    await e.waitForClose();
    expect(e.closeReason).toBe('client-reset');
    expect(e.inputEnded).toBe(false);
  });

  it('an already aborted signal: start() rejects with SB_NOVA_CLOSED and nothing reaches the service', async () => {
    const { emu, client } = await fixture();
    const ac = new AbortController();
    ac.abort();
    const { s, r } = session(client, { signal: ac.signal });
    await expect(s.start()).rejects.toMatchObject({ code: 'SB_NOVA_CLOSED' });
    expect(r.all('closed')).toEqual([{ reason: 'aborted' }]);
    expect(emu.sessions).toHaveLength(0);
  });

  it('leaves no timer behind after a close, an error, a stall or an abort', async () => {
    const { emu, client } = await fixture({
      script: (info) => (info.index === 1 ? { reply: 'silent', failure: { stall: true, afterInputEvents: 1 } }
        : info.index === 2 ? { failure: { exception: 'throttlingException', afterInputEvents: 3 } }
          : { reply: 'silent' }),
    });
    const before = timeouts();
    const closing = session(client, { idleTimeoutMs: 10_000 }).s;
    await closing.start();
    sendAll(closing, tone(400, 16000, 300, 8000)); // arms the watchdog
    await closing.close();

    const stalled = session(client, { idleTimeoutMs: 200 });
    await stalled.s.start();
    sendAll(stalled.s, tone(400, 16000, 300, 8000));
    await stalled.r.error();

    const failed = session(client);
    await failed.s.start().catch(() => undefined);
    sendAll(failed.s, SILENCE_320);
    await failed.r.error();

    const ac = new AbortController();
    const aborted = session(client, { signal: ac.signal });
    await aborted.s.start();
    sendAll(aborted.s, tone(400, 16000, 300, 8000));
    await (await emu.waitForSession((x) => x.index === 3)).waitForEvent('audioInput');
    ac.abort();

    for (const e of await Promise.all([0, 1, 2, 3].map((i) => emu.waitForSession((x: EmulatedSession) => x.index === i)))) await e.waitForClose();
    expect(timeouts()).toBeLessThanOrEqual(before);
  });

  it('refuses bad options with SB_NOVA_BAD_OPTION', async () => {
    const { client } = await fixture();
    const bad: Array<Partial<NovaSessionOptions>> = [
      { voiceId: 'greta', modelId: V2 },
      { voiceId: 'nobody' },
      { inputSampleRate: 44100 as 16000 },
      { outputSampleRate: 22050 as 16000 },
      { frameMs: 30 },
      { frameMs: 0 },
      { idleTimeoutMs: 0 },
      { tools: [{ name: 'a', description: '', inputSchema: {} }, { name: 'a', description: '', inputSchema: {} }] },
    ];
    for (const o of bad) {
      let err: unknown;
      try {
        session(client, o);
      } catch (e) {
        err = e;
      }
      expect(isSwitchboardError(err, 'SB_NOVA_BAD_OPTION'), JSON.stringify(o)).toBe(true);
    }
  });
});
