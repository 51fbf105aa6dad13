import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachAudioStreams, type AudioStreams } from '../../test/support/audio-stream-wiring.ts';
import { tone } from '../../test/support/audio-stream-client/index.ts';
import { FreeSwitchSim, type SimChannel } from '../../test/support/freeswitch-sim/index.ts';
import { EslServer, type Call } from '../esl/index.ts';
import { silentLogger } from '../log.ts';
import type { AudioStream } from './audio-stream.ts';
import { MediaServer } from './media-server.ts';
import { SpeechPlayer } from './speech-player.ts';

let sim: FreeSwitchSim;
let media: MediaServer;
let server: EslServer;
let streams: AudioStreams;
let calls: Call[];

beforeEach(async () => {
  sim = await FreeSwitchSim.start({ timeScale: 0.1 });
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

async function streamingCall(): Promise<{ call: Call; channel: SimChannel; stream: AudioStream }> {
  const channel = await sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port: server.address!.port } });
  await expect.poll(() => calls.length).toBe(1);
  const call = calls[0] as Call;
  await call.answer();
  const issued = media.issue(call.id, { sampleRate: 16000 });
  const streaming = media.waitForStream(call.id, { token: issued.token });
  await call.setVar('STREAM_EXTRA_HEADERS', JSON.stringify(issued.headers));
  await call.startAudioStream(issued.url, { rate: 16000 });
  return { call, channel, stream: await streaming };
}

const streamFiles = (ch: SimChannel) => ch.played.filter((p) => /\.tmp\.r16$/.test(p.file));
const fileIndex = (file: string): number => Number(/_(\d+)\.tmp\.r16$/.exec(file)?.[1]);

describe('SpeechPlayer', () => {
  it('plays a burst of model audio gapless and in order, one file at a time', async () => {
    const { call, channel, stream } = await streamingCall();
    const player = new SpeechPlayer({ call, stream, sampleRate: 16000, chunkMs: 200 });
    await player.start();
    const { pcm } = tone(1000, 16000, 300);
    for (let i = 0; i < pcm.length; i += 1280) player.push(pcm.subarray(i, i + 1280)); // 40 ms pieces, all at once
    player.flush();
    await player.idle();
    const played = streamFiles(channel);
    expect(played.map((p) => fileIndex(p.file))).toEqual([0, 1, 2, 3, 4]);
    expect(played.every((p) => !p.interrupted && p.via === 'sendmsg')).toBe(true);
    for (let i = 1; i < played.length; i++) {
      const gap = (played[i]!.startedAt as number) - (played[i - 1]!.endedAt as number);
      expect(gap, `gap before file ${i}`).toBeLessThanOrEqual(20);
    }
    expect(player.stats).toMatchObject({ chunksSent: 5, filesPlayed: 5, filesDropped: 0 });
    player.close();
  });

  it('on barge-in, nothing more of the interrupted turn plays once the break is sent', async () => {
    const { call, channel, stream } = await streamingCall();
    const player = new SpeechPlayer({ call, stream, sampleRate: 16000, chunkMs: 200 });
    await player.start();
    player.push(tone(3000, 16000, 300).pcm);
    player.flush();
    await channel.waitForApp('playback', { arg: /_1\.tmp\.r16$/ });
    const interruptedAt = sim.now();
    await player.interrupt();
    await player.idle();
    const played = streamFiles(channel);
    const startedAfter = played.filter((p) => (p.startedAt as number) > interruptedAt + 1);
    expect(startedAfter).toEqual([]);
    expect(played.at(-1)?.interrupted).toBe(true);
    expect(played.length).toBeLessThan(15);
    expect(player.stats.interruptions).toBe(1);

    // the next turn plays normally
    player.push(tone(400, 16000, 500).pcm);
    player.flush();
    await player.idle();
    expect(streamFiles(channel).length).toBe(played.length + 2);
    player.close();
  });
});
