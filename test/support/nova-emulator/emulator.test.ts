/**
 * The emulator driven by the real @aws-sdk/client-bedrock-runtime over h2c. Every wait is for the
 * event that proves the point, with a timeout; nothing sleeps.
 */
import {
  InternalServerException, ModelStreamErrorException, ModelTimeoutException, ServiceUnavailableException,
  ThrottlingException, ValidationException, type BedrockRuntimeClient,
} from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silence, tone } from './audio.ts';
import { novaClient } from './client.ts';
import { NovaEmulator } from './emulator.ts';
import { RawNovaCall } from './raw-call.ts';
import type { SessionScript, StreamExceptionType } from './scripts.ts';

const SILENCE_320 = silence(320, 16000);

/** Deterministic PCM that is not a tone, so byte equality means the bytes went through untouched. */
function pattern(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + (i >> 7)) & 0xff;
  return b;
}

async function withEmulator(options: Parameters<typeof NovaEmulator.start>[0], fn: (emu: NovaEmulator, client: BedrockRuntimeClient) => Promise<void>): Promise<void> {
  const emu = await NovaEmulator.start(options);
  const client = novaClient(emu.endpoint);
  try {
    await fn(emu, client);
  } finally {
    client.destroy();
    await emu.close();
  }
}

const ofType = (type: string) => (b: Record<string, unknown>): boolean => b.type === type;

describe('happy path', () => {
  it('plays a canned turn in Nova order, with the scripted audio bytes, and closes cleanly', async () => {
    const scripted = pattern(8000 * 2 * 0.25); // 250 ms at 8 kHz
    await withEmulator({
      script: {
        turnDetection: { afterAudioMs: 320 },
        reply: [{ userTranscript: 'what time is it', text: 'It is noon.', audio: scripted }],
        audioPacing: { chunkMs: 40, speed: Infinity },
      },
    }, async (emu, client) => {
      const call = new RawNovaCall(client);
      call.open({
        outputRate: 8000, voiceId: 'tiffany', system: 'You are a receptionist.',
        history: [{ role: 'USER', text: 'Hi, I called before.' }, { role: 'ASSISTANT', text: 'Welcome back.' }],
      });
      const s = await emu.waitForSession();
      await s.waitForEvent('contentStart', { where: ofType('AUDIO') });
      expect(s.outputs).toEqual([]); // v1 does not speak first
      call.audio(SILENCE_320);
      await call.waitFor('usageEvent');

      const seq = call.names();
      const audioCount = seq.filter((n) => n === 'audioOutput').length;
      expect(audioCount).toBe(Math.ceil(scripted.length / 640));
      expect(seq).toEqual([
        'completionStart',
        'contentStart', 'textOutput', 'contentEnd',
        'contentStart', 'textOutput', 'contentEnd',
        'contentStart', ...Array<string>(audioCount).fill('audioOutput'), 'contentEnd',
        'contentStart', 'textOutput', 'contentEnd',
        'usageEvent',
      ]);
      const o = call.outputs;
      expect(o[1]!.body).toMatchObject({ type: 'TEXT', role: 'USER' });
      expect(JSON.parse(o[1]!.body.additionalModelFields as string)).toEqual({ generationStage: 'FINAL' });
      expect(o[2]!.body).toMatchObject({ role: 'USER', content: 'what time is it' });
      expect(o[4]!.body).toMatchObject({ type: 'TEXT', role: 'ASSISTANT' });
      expect(JSON.parse(o[4]!.body.additionalModelFields as string)).toEqual({ generationStage: 'SPECULATIVE' });
      expect(o[5]!.body.content).toBe('It is noon.');
      expect(o[6]!.body.stopReason).toBe('PARTIAL_TURN');
      expect(o[7]!.body).toMatchObject({ type: 'AUDIO', role: 'ASSISTANT', audioOutputConfiguration: { sampleRateHertz: 8000 } });
      expect(o[8 + audioCount]!.body).toMatchObject({ type: 'AUDIO', stopReason: 'END_TURN' });
      expect(JSON.parse(o[9 + audioCount]!.body.additionalModelFields as string)).toEqual({ generationStage: 'FINAL' });
      expect(o[11 + audioCount]!.body.stopReason).toBe('END_TURN');
      expect(call.audioOut().equals(scripted)).toBe(true);
      // all output events of a prompt share its ids
      const ids = new Set(o.map((e) => `${e.body.sessionId}|${e.body.promptName}|${e.body.completionId}`));
      expect(ids.size).toBe(1);
      expect([...ids][0]).toBe(`${s.id}|${call.promptName}|${o[0]!.body.completionId}`);

      call.close();
      await call.finished;
      expect(call.error).toBeUndefined();
      expect(call.names().at(-1)).toBe('completionEnd');
      await s.waitForClose();
      expect(s.closeReason).toBe('session-end');
      expect(s.modelId).toBe('amazon.nova-sonic-v1:0');
      expect(s.prompt).toMatchObject({ voiceId: 'tiffany', outputSampleRate: 8000 });
      expect(s.systemPrompt).toBe('You are a receptionist.');
      expect(s.history).toEqual([{ role: 'USER', text: 'Hi, I called before.' }, { role: 'ASSISTANT', text: 'Welcome back.' }]);
      expect(s.audioInBytes).toBe(SILENCE_320.length);
      expect(s.audioInEvents).toBe(10);
      expect(s.crcErrors).toBe(0);
      expect(s.inputEnded).toBe(true);
      expect(s.events.map((e) => e.name).slice(0, 2)).toEqual(['sessionStart', 'promptStart']);
      expect(s.events.at(-1)!.name).toBe('sessionEnd');
      expect(s.events.find((e) => e.name === 'audioInput')!.event.audioInput).toMatchObject({ contentBytes: 1024 });
    });
  });

  it('echoes the caller: the VAD cuts the turn from the first to the last loud frame', async () => {
    await withEmulator({ script: { reply: 'echo', audioPacing: { speed: Infinity } } }, async (emu, client) => {
      const call = new RawNovaCall(client);
      call.open();
      const speech = tone(480, 16000, 300, 6000); // 15 frames of 32 ms
      call.audio(Buffer.concat([SILENCE_320, speech, silence(800, 16000)]));
      await call.waitFor('usageEvent');
      expect(call.audioOut().equals(speech)).toBe(true);
      expect(call.outputs.find((o) => o.name === 'textOutput')!.body).toMatchObject({ role: 'USER', content: '[echo 480 ms]' });
      // a second turn is answered too
      const from = call.outputs.length;
      call.audio(Buffer.concat([tone(256, 16000, 500), silence(640, 16000)]));
      await call.waitFor('usageEvent', { from });
      expect(call.audioOut(from).length).toBe(256 * 32);
      call.close();
      await call.finished;
      expect(call.error).toBeUndefined();
      expect((await emu.waitForSession()).turns).toBe(2);
    });
  });

  it('resamples the echo to the prompt output rate', async () => {
    await withEmulator({ script: { turnDetection: { afterAudioMs: 320 }, reply: 'echo', audioPacing: { speed: Infinity } } }, async (_emu, client) => {
      const call = new RawNovaCall(client);
      call.open({ inputRate: 16000, outputRate: 24000 });
      call.audio(tone(320, 16000));
      await call.waitFor('usageEvent');
      expect(call.audioOut().length).toBe(320 * 24 * 2);
      call.close();
      await call.finished;
    });
  });

  it('Nova 2 answers an interactive text turn (speaks first); v1 only records it', async () => {
    await withEmulator({ script: { reply: [{ text: 'Hello, how can I help?', audio: { ms: 100 } }], audioPacing: { speed: Infinity } }, timeScale: 0.01 }, async (emu, client) => {
      const v2 = new RawNovaCall(client, 'amazon.nova-2-sonic-v1:0');
      v2.open({ voiceId: 'olivia' });
      v2.text('USER', 'hello', true);
      await v2.waitFor('usageEvent');
      expect(v2.outputs.find((o) => o.name === 'textOutput' && o.body.role === 'ASSISTANT')!.body.content).toBe('Hello, how can I help?');
      v2.close();
      await v2.finished;
      expect(v2.error).toBeUndefined();

      const v1 = new RawNovaCall(client);
      v1.open();
      v1.text('USER', 'hello', true);
      const s1 = await emu.waitForSession((s) => s.index === 1);
      await s1.waitForEvent('contentEnd', { from: 3 });
      v1.close();
      await v1.finished;
      expect(v1.outputs).toEqual([]);
      expect(s1.turns).toBe(0);
    });
  });

  it('endSession: the emulator ends the response stream after the turn', async () => {
    await withEmulator({ script: { turnDetection: { afterAudioMs: 320 }, reply: [{ text: 'Goodbye.', endSession: true }] } }, async (emu, client) => {
      const call = new RawNovaCall(client);
      call.open();
      call.audio(SILENCE_320);
      await call.finished;
      expect(call.error).toBeUndefined();
      expect(call.names().at(-1)).toBe('completionEnd');
      const s = await emu.waitForSession();
      await s.waitForClose();
      expect(s.closeReason).toBe('end-session');
    });
  });
});

describe('tool use', () => {
  it('asks for a tool, waits for the toolResult, then answers with it', async () => {
    await withEmulator({
      script: {
        turnDetection: { afterAudioMs: 320 },
        audioPacing: { speed: Infinity },
        reply: [{
          userTranscript: 'what is my balance',
          toolUse: { toolName: 'getBalance', input: { account: '123' } },
          text: (ctx) => `Your balance is ${(JSON.parse(ctx.toolResult!) as { balance: number }).balance}.`,
          audio: { ms: 120 },
        }],
      },
    }, async (emu, client) => {
      const call = new RawNovaCall(client);
      call.open({ tools: [{ name: 'getBalance', schema: { type: 'object', properties: { account: { type: 'string' } } } }] });
      call.audio(SILENCE_320);
      const end = await call.waitFor('contentEnd', { where: (b) => b.stopReason === 'TOOL_USE' });
      const start = call.outputs.findIndex((o) => o.name === 'contentStart' && o.body.type === 'TOOL');
      expect(call.outputs[start]!.body).toMatchObject({ role: 'TOOL', toolUseOutputConfiguration: { mediaType: 'application/json' } });
      const use = call.outputs[start + 1]!;
      expect(use.name).toBe('toolUse');
      expect(use.body.toolName).toBe('getBalance');
      expect(JSON.parse(use.body.content as string)).toEqual({ account: '123' });
      expect(end.body.type).toBe('TOOL');

      const s = await emu.waitForSession();
      expect(s.outputs.at(-1)!.name).toBe('contentEnd'); // waiting: nothing said yet
      call.toolResult(use.body.toolUseId as string, { balance: 42 });
      const said = await call.waitFor('textOutput', { where: (b) => b.role === 'ASSISTANT' });
      expect(said.body.content).toBe('Your balance is 42.');
      await call.waitFor('usageEvent');
      expect(s.toolResults).toEqual([{ toolUseId: use.body.toolUseId, content: '{"balance":42}' }]);
      call.close();
      await call.finished;
      expect(call.error).toBeUndefined();
    });
  });
});

describe('barge-in', () => {
  it('stops the audio mid-send and says it was interrupted', async () => {
    await withEmulator({
      script: {
        turnDetection: { afterAudioMs: 320 },
        reply: [{ userTranscript: 'tell me a story', text: 'Once upon a time…', audio: { ms: 3000 } }],
        audioPacing: { chunkMs: 40, speed: 1, burstMs: 120 },
      },
    }, async (emu, client) => {
      const call = new RawNovaCall(client);
      call.open();
      call.audio(SILENCE_320);
      await call.waitFor('audioOutput');
      call.audio(tone(192, 16000));
      const interrupted = await call.waitFor('textOutput', { where: (b) => b.content === '{ "interrupted" : true }' });
      await call.waitFor('contentEnd', { where: (b) => b.type === 'TEXT' && b.stopReason === 'INTERRUPTED' });
      const audioEnd = call.outputs.findIndex((o) => o.name === 'contentEnd' && o.body.type === 'AUDIO');
      expect(call.outputs[audioEnd]!.body.stopReason).toBe('INTERRUPTED');
      expect(audioEnd).toBeLessThan(interrupted.index);
      expect(call.outputs[interrupted.index - 1]!.body).toMatchObject({ type: 'TEXT', role: 'ASSISTANT' });
      expect(JSON.parse(call.outputs[interrupted.index - 1]!.body.additionalModelFields as string)).toEqual({ generationStage: 'FINAL' });
      expect(call.outputs[interrupted.index + 1]!.body).toMatchObject({ type: 'TEXT', stopReason: 'INTERRUPTED' });
      expect(call.audioOut().length).toBeLessThan(3000 * 32);
      const s = await emu.waitForSession();
      expect(s.interruptions).toBe(1);
      call.close();
      await call.finished;
      expect(call.error).toBeUndefined();
    });
  });

  it('also interrupts after the last chunk was sent, while the audio is still playing out', async () => {
    await withEmulator({
      script: {
        turnDetection: { afterAudioMs: 320 },
        reply: [{ text: 'A long answer.', audio: { ms: 2000 } }],
        audioPacing: { speed: Infinity },
      },
    }, async (_emu, client) => {
      const call = new RawNovaCall(client);
      call.open();
      call.audio(SILENCE_320);
      await call.waitFor('contentEnd', { where: (b) => b.type === 'AUDIO' && b.stopReason === 'END_TURN' });
      expect(call.audioOut().length).toBe(2000 * 32);
      call.audio(tone(192, 16000));
      const i = await call.waitFor('textOutput', { where: (b) => b.content === '{ "interrupted" : true }' });
      const end = await call.waitFor('contentEnd', { where: (b) => b.stopReason === 'INTERRUPTED' });
      expect(end.index).toBe(i.index + 1);
      expect(end.body.type).toBe('TEXT');
      // only the SPECULATIVE text was sent: the FINAL one became the interruption notice
      expect(call.outputs.filter((o) => o.name === 'textOutput' && o.body.content === 'A long answer.')).toHaveLength(1);
      call.close();
      await call.finished;
    });
  });
});

describe('failures', () => {
  const classes: Record<StreamExceptionType, new (...args: never[]) => Error> = {
    validationException: ValidationException,
    throttlingException: ThrottlingException,
    modelTimeoutException: ModelTimeoutException,
    modelStreamErrorException: ModelStreamErrorException,
    internalServerException: InternalServerException,
    serviceUnavailableException: ServiceUnavailableException,
  };
  const types = Object.keys(classes) as StreamExceptionType[];

  it('each mid-stream exception reaches the SDK as its own error class', async () => {
    await withEmulator({
      script: (info): SessionScript => ({
        turnDetection: { afterAudioMs: 320 },
        reply: [{ text: 'x', audio: { ms: 400 } }],
        audioPacing: { speed: Infinity },
        failure: { exception: types[info.index]!, message: `scripted ${types[info.index]}`, afterOutputEvents: 5 },
      }),
    }, async (emu, client) => {
      const calls = types.map(() => new RawNovaCall(client));
      for (const c of calls) {
        c.open();
        c.audio(SILENCE_320);
      }
      await Promise.all(calls.map((c) => c.finished));
      for (const c of calls) {
        const s = emu.sessions.find((x) => x.prompt?.promptName === c.promptName)!;
        const type = s.exception!.type;
        expect(c.error).toBeInstanceOf(classes[type]);
        expect((c.error as Error).message).toBe(`scripted ${type}`);
        expect(c.outputs).toHaveLength(5);
        await s.waitForClose();
        expect(s.closeReason).toBe('exception');
      }
      expect(new Set(emu.sessions.map((s) => s.exception?.type))).toEqual(new Set(types));
    });
  });

  it('an exception before any output rejects the call too (send() never resolved)', async () => {
    await withEmulator({ script: { failure: { exception: 'throttlingException', afterInputEvents: 1 } } }, async (_emu, client) => {
      const call = new RawNovaCall(client);
      call.open();
      await call.finished;
      expect(call.error).toBeInstanceOf(ThrottlingException);
      expect(call.outputs).toEqual([]);
    });
  });

  it('refuses the stream with an HTTP error before it starts', async () => {
    await withEmulator({
      script: (info) => (info.index === 0 ? { httpError: { status: 429, errorType: 'ThrottlingException', message: 'Too many tokens' } } : {}),
    }, async (emu, client) => {
      const call = new RawNovaCall(client);
      call.open();
      await call.finished;
      expect(call.error).toBeInstanceOf(ThrottlingException);
      expect((call.error as ThrottlingException).$metadata.httpStatusCode).toBe(429);
      expect((call.error as Error).message).toBe('Too many tokens');

      const bad = new RawNovaCall(client, 'amazon.nova-pro-v1:0');
      bad.open();
      await bad.finished;
      expect(bad.error).toBeInstanceOf(ValidationException);
      expect((bad.error as ValidationException).$metadata.httpStatusCode).toBe(400);
      expect(emu.sessions.map((s) => s.closeReason)).toEqual(['http-error', 'http-error']);
    });
  });

  it('ends the stream with modelTimeoutException at the (scaled) 8-minute limit', async () => {
    await withEmulator({ timeScale: 0.001 }, async (emu, client) => {
      const call = new RawNovaCall(client);
      const t0 = Date.now();
      call.open();
      await call.finished;
      const elapsed = Date.now() - t0;
      expect(call.error).toBeInstanceOf(ModelTimeoutException);
      expect(elapsed).toBeGreaterThanOrEqual(470);
      expect(elapsed).toBeLessThan(3000);
      expect(emu.sessions[0]!.exception!.message).toMatch(/maximum duration of 480 s/);
    });
  });

  it('stall: output stops, the stream stays open until the client gives up', async () => {
    await withEmulator({
      script: { turnDetection: { afterAudioMs: 320 }, reply: [{ text: 'x', audio: { ms: 400 } }], failure: { stall: true, afterOutputEvents: 2 } },
    }, async (emu, client) => {
      const abort = new AbortController();
      const call = new RawNovaCall(client, undefined, { abortSignal: abort.signal });
      call.open();
      call.audio(SILENCE_320);
      const s = await emu.waitForSession();
      await call.waitFor('contentStart');
      // The client's own watchdog: no further output within 300 ms.
      await expect(call.waitFor('usageEvent', { timeoutMs: 300 })).rejects.toThrow(/no output 'usageEvent'/);
      expect(call.outputs).toHaveLength(2);
      call.audio(SILENCE_320); // input is still read and recorded while stalled
      await s.waitForEvent('audioInput', { from: s.events.length, timeoutMs: 1000 });
      expect(s.closeReason).toBeNull();
      abort.abort();
      await call.finished;
      await s.waitForClose();
      expect(s.closeReason).toBe('client-reset');
    });
  });

  it('slow: every output event is delayed', async () => {
    await withEmulator({ script: { turnDetection: { afterAudioMs: 320 }, reply: [{ text: 'slow' }], outputDelayMs: 40 } }, async (emu, client) => {
      const call = new RawNovaCall(client);
      call.open();
      call.audio(SILENCE_320);
      await call.waitFor('usageEvent');
      const at = (await emu.waitForSession()).outputs.map((o) => o.at);
      for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(35);
      call.close();
      await call.finished;
    });
  });
});

describe('input validation', () => {
  const P = 'p1';
  const C = 'c1';
  const audioStart = (rate: number, promptName = P): Record<string, unknown> => ({
    promptName, contentName: C, type: 'AUDIO', role: 'USER', interactive: true,
    audioInputConfiguration: { mediaType: 'audio/lpcm', sampleRateHertz: rate, sampleSizeBits: 16, channelCount: 1, audioType: 'SPEECH', encoding: 'base64' },
  });
  const promptStart = (voiceId = 'matthew', rate = 16000): Record<string, unknown> => ({
    promptName: P,
    textOutputConfiguration: { mediaType: 'text/plain' },
    audioOutputConfiguration: { mediaType: 'audio/lpcm', sampleRateHertz: rate, sampleSizeBits: 16, channelCount: 1, voiceId, encoding: 'base64', audioType: 'SPEECH' },
  });
  const audio = { audioInput: { promptName: P, contentName: C, content: SILENCE_320.subarray(0, 640).toString('base64') } };
  const cases: Array<[string, Array<Record<string, Record<string, unknown>>>, RegExp]> = [
    ['sessionStart must come first', [{ promptStart: promptStart() }], /before sessionStart/],
    ['audio before promptStart', [{ sessionStart: {} }, audio], /audioInput received before promptStart/],
    ['content before promptStart', [{ sessionStart: {} }, { contentStart: audioStart(16000) }], /contentStart received before promptStart/],
    ['audioInput before contentStart', [{ sessionStart: {} }, { promptStart: promptStart() }, audio], /not open/],
    ['wrong promptName', [{ sessionStart: {} }, { promptStart: promptStart() }, { contentStart: audioStart(16000, 'other') }], /does not match the active prompt/],
    ['missing contentName', [{ sessionStart: {} }, { promptStart: promptStart() }, { textInput: { promptName: P, content: 'x' } }], /contentName must be a non-empty string/],
    ['unknown voice', [{ sessionStart: {} }, { promptStart: promptStart('bob') }], /voiceId 'bob' is not a voice of this model/],
    ['input rate', [{ sessionStart: {} }, { promptStart: promptStart() }, { contentStart: audioStart(44100) }], /audioInputConfiguration.sampleRateHertz must be one of 8000, 16000/],
    ['output rate', [{ sessionStart: {} }, { promptStart: promptStart('matthew', 44100) }], /audioOutputConfiguration.sampleRateHertz must be one of 8000, 16000, 24000/],
    ['toolResult for an unknown toolUseId', [{ sessionStart: {} }, { promptStart: promptStart() }, {
      contentStart: { promptName: P, contentName: 't', type: 'TOOL', role: 'TOOL', interactive: false, toolResultInputConfiguration: { toolUseId: 'nope', type: 'TEXT', textInputConfiguration: { mediaType: 'text/plain' } } },
    }], /does not match a pending toolUse/],
    ['promptEnd with open content', [{ sessionStart: {} }, { promptStart: promptStart() }, { contentStart: audioStart(16000) }, { promptEnd: { promptName: P } }], /still open/],
    ['unknown event', [{ sessionStart: {} }, { hello: {} }], /unknown input event 'hello'/],
  ];

  it.each(cases.map(([name, events, re]) => ({ name, events, re })))('$name → validationException', async ({ events, re }) => {
    await withEmulator({}, async (emu, client) => {
      const call = new RawNovaCall(client);
      for (const e of events) call.send(e);
      await call.finished;
      expect(call.error).toBeInstanceOf(ValidationException);
      expect((call.error as Error).message).toMatch(re);
      const s = emu.sessions[0]!;
      await s.waitForClose();
      expect(s.closeReason).toBe('exception');
      expect(s.exception!.type).toBe('validationException');
    });
  });
});

describe('load', () => {
  let emu: NovaEmulator;
  let client: BedrockRuntimeClient;
  beforeAll(async () => {
    emu = await NovaEmulator.start({ script: { turnDetection: { afterAudioMs: 320 }, reply: 'echo', audioPacing: { speed: Infinity } }, timeScale: 0.01 });
    client = novaClient(emu.endpoint);
  });
  afterAll(async () => {
    client.destroy();
    await emu.close();
  });

  it('serves 50 concurrent calls; the SDK opens one connection per stream', async () => {
    const announced: string[] = [];
    emu.on('session', (s) => announced.push(s.id));
    const calls = Array.from({ length: 50 }, () => new RawNovaCall(client));
    for (const c of calls) {
      c.open();
      c.audio(tone(320, 16000));
    }
    await Promise.all(calls.map((c) => c.waitFor('usageEvent')));
    for (const c of calls) {
      expect(c.audioOut().equals(tone(320, 16000))).toBe(true);
      c.close();
    }
    await Promise.all(calls.map((c) => c.finished));
    expect(calls.every((c) => c.error === undefined)).toBe(true);
    expect(emu.connections).toBe(50);
    expect(announced).toEqual(emu.sessions.map((s) => s.id));
    expect(emu.sessions.every((s) => s.closeReason === 'session-end' && s.crcErrors === 0)).toBe(true);
  });
});
