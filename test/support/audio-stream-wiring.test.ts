import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startMediaRig, type MediaRig } from './media-rig.ts';

let rig: MediaRig;
beforeEach(async () => {
  rig = await startMediaRig();
});
afterEach(async () => {
  await rig.close();
});

describe('simulated mod_audio_stream through the real media server', () => {
  it('connects with the STREAM_EXTRA_HEADERS token, carries audio both ways and fires ::connect and ::play on the channel', async () => {
    const { call, channel } = await rig.call();
    await call.answer();
    await call.subscribe('mod_audio_stream::connect', 'mod_audio_stream::play', 'mod_audio_stream::error');
    const issued = rig.media.issue(call.id, { sampleRate: 16000 });
    const streaming = rig.media.waitForStream(call.id, { token: issued.token });
    const connected = call.waitFor('mod_audio_stream::connect', { timeoutMs: 5000 });
    await call.setVar('STREAM_EXTRA_HEADERS', JSON.stringify(issued.headers));
    await call.startAudioStream(issued.url, { rate: 16000 });
    const stream = await streaming;
    await connected;
    const client = await rig.streams.connected(channel.uuid);

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
    const { call } = await rig.call();
    await call.subscribe('mod_audio_stream::error');
    const issued = rig.media.issue(call.id, { sampleRate: 8000 });
    const error = call.waitFor('mod_audio_stream::error', { timeoutMs: 5000 });
    await call.startAudioStream(issued.url); // no Authorization header: refused
    expect(JSON.parse((await error).body ?? '{}')).toMatchObject({ status: 'error', message: { code: 6 } });
    await call.hangup();
  });
});
