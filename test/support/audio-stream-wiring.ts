/**
 * Makes the FreeSWITCH simulator behave like mod_audio_stream end to end: `uuid_audio_stream
 * <uuid> start <url> …` opens a real websocket (AudioStreamClient) with the channel's
 * STREAM_EXTRA_HEADERS, and the module's CUSTOM events (`::connect`, `::error`, `::play`,
 * `::json`) are fired on the channel. `stop`, `send_text` and hangup act on the websocket; as
 * measured, no `::disconnect` event is fired.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AudioStreamClient, AudioStreamConnectError, EVENT_BODIES } from './audio-stream-client/index.ts';
import type { FreeSwitchSim } from './freeswitch-sim/index.ts';

export interface AudioStreams {
  /** The websocket of a channel's stream, once connected. */
  client(uuid: string): AudioStreamClient | undefined;
  /** Resolves with the client once the channel's stream is connected. */
  connected(uuid: string, timeoutMs?: number): Promise<AudioStreamClient>;
  detach(): void;
}

/** `playEvents: false` behaves like the older ixwebsocket build of the module: streamAudio replies are never played (no `::play`). */
export function attachAudioStreams(sim: FreeSwitchSim, options: { realtime?: boolean; tmpDir?: string; playEvents?: boolean } = {}): AudioStreams {
  const tmpDir = options.tmpDir ?? mkdtempSync(join(tmpdir(), 'sb-audio-stream-'));
  const clients = new Map<string, AudioStreamClient>();
  const waiters = new Map<string, Array<(c: AudioStreamClient) => void>>();
  const fire = (uuid: string, subclass: string, body: string): void => sim.channel(uuid)?.fire('CUSTOM', { subclass: `mod_audio_stream::${subclass}`, body });

  const onAction = (a: { uuid: string; action: string; url?: string; rate?: number; metadata?: string; text?: string }): void => {
    if (a.action === 'start' && a.url) {
      const headersVar = sim.channel(a.uuid)?.vars.get('STREAM_EXTRA_HEADERS');
      let headers: Record<string, string> = {};
      try {
        headers = headersVar ? (JSON.parse(headersVar) as Record<string, string>) : {};
      } catch {
        headers = {};
      }
      AudioStreamClient.connect({ url: a.url, headers, metadata: a.metadata, sampleRate: a.rate === 16000 ? 16000 : 8000, realtime: options.realtime ?? false, tmpDir, callId: a.uuid }).then(
        (client) => {
          clients.set(a.uuid, client);
          fire(a.uuid, 'connect', EVENT_BODIES.connect);
          if (options.playEvents !== false) client.on('play', (info) => fire(a.uuid, 'play', info.body));
          client.on('json', (text) => fire(a.uuid, 'json', text));
          client.on('close', () => clients.delete(a.uuid));
          for (const w of waiters.get(a.uuid) ?? []) w(client);
          waiters.delete(a.uuid);
        },
        (err: unknown) => fire(a.uuid, 'error', err instanceof AudioStreamConnectError ? err.eventBody : EVENT_BODIES.upgradeFailed),
      );
    } else if (a.action === 'stop') {
      void clients.get(a.uuid)?.stop(a.text);
    } else if (a.action === 'send_text' && a.text !== undefined) {
      clients.get(a.uuid)?.sendText(a.text);
    }
  };
  sim.on('audioStream', onAction);

  return {
    client: (uuid) => clients.get(uuid),
    connected: (uuid, timeoutMs = 5000) => {
      const c = clients.get(uuid);
      if (c) return Promise.resolve(c);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no audio stream for ${uuid} within ${timeoutMs} ms`)), timeoutMs);
        const list = waiters.get(uuid) ?? [];
        list.push((client) => {
          clearTimeout(timer);
          resolve(client);
        });
        waiters.set(uuid, list);
      });
    },
    detach: () => {
      sim.off('audioStream', onAction);
      for (const c of clients.values()) c.terminate();
      clients.clear();
    },
  };
}
