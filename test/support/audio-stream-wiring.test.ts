import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EslServer, type Call } from '../../core/esl/index.ts';
import { silentLogger } from '../../core/log.ts';
import { MediaServer } from '../../core/media/index.ts';
import { attachAudioStreams, type AudioStreams } from './audio-stream-wiring.ts';
import { FreeSwitchSim } from './freeswitch-sim/index.ts';

let sim: FreeSwitchSim;
let media: MediaServer;
let server: EslServer;
let streams: AudioStreams;
let calls: Call[];

beforeEach(async () => {
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
  streams = attachAudioStreams(sim);
  media = new MediaServer({ host: '127.0.0.1', port: 0, secret: 'a-test-secret-of-32-characters!!', logger: silentLogger });
  await media.start();
  calls = [];
  server = new EslServer({ host: '127.0.0.1', port: 0, onCall: async (c) => { calls.push(c); await c.ended; } });
  await server.start();
});
afterEach(async () => {
  streams.detach();
  await server.close(100);
  await media.close();
  await sim.close();
});

describe('simulated mod_audio_stream through the real media server', () => {
  it('connects with the STREAM_EXTRA_HEADERS token, carries audio both ways and fires ::connect and ::play on the channel', async () => {
    const ch = await sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port: server.address!.port } });
    await expect.poll(() => calls.length).toBe(1);
    const call = calls[0] as Call;
    await call.answer();
    await call.subscribe('mod_audio_stream::connect', 'mod_audio_stream::play', 'mod_audio_stream::error');
    const issued = media.issue(call.id, { sampleRate: 16000 });
    const streaming = media.waitForStream(call.id, { token: issued.token });
    const connected = call.waitFor('mod_audio_stream::connect', { timeoutMs: 5000 });
    await call.setVar('STREAM_EXTRA_HEADERS', JSON.stringify(issued.headers));
    await call.startAudioStream(issued.url, { rate: 16000 });
    const stream = await streaming;
    await connected;
    const client = await streams.connected(ch.uuid);

    const frames: Buffer[] = [];
    stream.on('audio', (f) => frames.push(f));
    await client.sendTone(100, 440);
    await expect.poll(() => frames.length).toBe(5);
    expect(frames.every((f) => f.length === 640)).toBe(true);

    const play = call.waitFor('mod_audio_stream::play', { timeoutMs: 5000 });
    stream.sendAudio(Buffer.alloc(3200), 16000);
    const ev = await play;
    expect(JSON.parse(ev.body ?? '{}')).toMatchObject({ audioDataType: 'raw', sampleRate: 16000, file: expect.stringMatching(/\.r16$/) });

    const closed = new Promise((r) => stream.once('close', r));
    await call.hangup();
    expect(await closed).toMatchObject({ code: 1000, byRemote: true });
  });

  it('a refused handshake shows only as ::error after start answered +OK', async () => {
    await sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port: server.address!.port } });
    await expect.poll(() => calls.length).toBe(1);
    const call = calls[0] as Call;
    await call.subscribe('mod_audio_stream::error');
    const issued = media.issue(call.id, { sampleRate: 8000 });
    const error = call.waitFor('mod_audio_stream::error', { timeoutMs: 5000 });
    await call.startAudioStream(issued.url); // no Authorization header: refused
    expect(JSON.parse((await error).body ?? '{}')).toMatchObject({ status: 'error', message: { code: 6 } });
    await call.hangup();
  });
});
