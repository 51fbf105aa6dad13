import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tone } from '../../test/support/audio-stream-client/index.ts';
import type { SimChannel } from '../../test/support/freeswitch-sim/index.ts';
import { startMediaRig, type MediaRig } from '../../test/support/media-rig.ts';
import { SpeechPlayer } from './speech-player.ts';

let rig: MediaRig;
beforeEach(async () => {
  rig = await startMediaRig({ timeScale: 0.1 });
});
afterEach(async () => {
  await rig.close();
});

const streamFiles = (ch: SimChannel) => ch.played.filter((p) => /\.tmp\.r16$/.test(p.file));
const fileIndex = (file: string): number => Number(/_(\d+)\.tmp\.r16$/.exec(file)?.[1]);

describe('SpeechPlayer', () => {
  it('plays a burst of model audio gapless and in order, one file at a time', async () => {
    const { call, channel, stream } = await rig.streamingCall();
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
    expect(player.playSupport).toBe('yes');
    player.close();
  });

  it('on barge-in, nothing more of the interrupted turn plays once the break is sent', async () => {
    const { call, channel, stream } = await rig.streamingCall();
    const player = new SpeechPlayer({ call, stream, sampleRate: 16000, chunkMs: 200 });
    await player.start();
    player.push(tone(3000, 16000, 300).pcm);
    player.flush();
    await channel.waitForApp('playback', { arg: /_1\.tmp\.r16$/ });
    const interruptedAt = rig.sim.now();
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

  it('notices a mod_audio_stream build that never plays streamAudio replies and says so once', async () => {
    await rig.close();
    rig = await startMediaRig({ timeScale: 0.1, playEvents: false });
    const { call, stream } = await rig.streamingCall();
    const warnings: string[] = [];
    const logger = { child: () => logger, warn: (_o: unknown, msg: string) => warnings.push(msg), debug: () => {}, info: () => {} } as unknown as import('../log.ts').Logger;
    const player = new SpeechPlayer({ call, stream, sampleRate: 16000, playTimeoutMs: 100, logger });
    await player.start();
    player.push(tone(400, 16000, 300).pcm);
    player.flush();
    await expect.poll(() => player.playSupport).toBe('no');
    expect(warnings.filter((w) => w.includes('ixwebsocket'))).toHaveLength(1);
    player.close();
  });
});
