/**
 * A call with a live mod_audio_stream websocket, for tests of core/media and the nova step: the
 * FreeSWITCH simulator with simulated mod_audio_stream, the real media server, and an outbound
 * socket server handing over each call.
 */
import { expect } from 'vitest';
import { EslServer, type Call } from '../../core/esl/index.ts';
import { silentLogger } from '../../core/log.ts';
import { MediaServer, type AudioStream } from '../../core/media/index.ts';
import { attachAudioStreams, type AudioStreams } from './audio-stream-wiring.ts';
import { FreeSwitchSim, type SimChannel } from './freeswitch-sim/index.ts';

export interface MediaRig {
  sim: FreeSwitchSim;
  media: MediaServer;
  server: EslServer;
  streams: AudioStreams;
  calls: Call[];
  /** A new inbound call, handed to Switchboard (not answered). */
  call(): Promise<{ call: Call; channel: SimChannel }>;
  /** A new answered call whose audio streams (16 kHz) to the media server. */
  streamingCall(): Promise<{ call: Call; channel: SimChannel; stream: AudioStream }>;
  close(): Promise<void>;
}

export async function startMediaRig(options: { timeScale?: number; playEvents?: boolean } = {}): Promise<MediaRig> {
  const sim = await FreeSwitchSim.start({ timeScale: options.timeScale ?? 0.01 });
  const streams = attachAudioStreams(sim, { playEvents: options.playEvents });
  const media = new MediaServer({ host: '127.0.0.1', port: 0, secret: 'a-test-secret-of-32-characters!!', logger: silentLogger });
  await media.start();
  const calls: Call[] = [];
  const server = new EslServer({
    host: '127.0.0.1',
    port: 0,
    onCall: async (c) => {
      calls.push(c);
      await c.ended;
    },
  });
  await server.start();
  const call = async (): Promise<{ call: Call; channel: SimChannel }> => {
    const before = calls.length;
    const channel = await sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port: server.address!.port } });
    await expect.poll(() => calls.length).toBe(before + 1);
    return { call: calls[before] as Call, channel };
  };
  return {
    sim,
    media,
    server,
    streams,
    calls,
    call,
    async streamingCall() {
      const { call: c, channel } = await call();
      await c.answer();
      const issued = media.issue(c.id, { sampleRate: 16000 });
      const streaming = media.waitForStream(c.id, { token: issued.token });
      await c.setVar('STREAM_EXTRA_HEADERS', JSON.stringify(issued.headers));
      await c.startAudioStream(issued.url, { rate: 16000 });
      return { call: c, channel, stream: await streaming };
    },
    async close() {
      streams.detach();
      await server.close(100);
      await media.close();
      await sim.close();
    },
  };
}
