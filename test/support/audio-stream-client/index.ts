export {
  AudioStreamClient, AudioStreamConnectError, EVENT_BODIES,
  type AudioStreamClientOptions, type AudioStreamClientStats, type ClientCloseInfo, type PlayInfo,
} from './client.ts';
export { frameBytes, silence, tone, countingPcm, samplesFor } from './pcm.ts';
