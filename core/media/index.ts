export {
  MediaServer, CALL_ID_RE,
  type MediaServerOptions, type IssueOptions, type IssuedStream, type StreamSampleRate, type WaitForStreamOptions, type StreamRefusal,
} from './media-server.ts';
export {
  AudioStream,
  type AudioStreamEvents, type AudioStreamStats, type FramesOptions, type ReplySampleRate, type StreamCloseInfo,
} from './audio-stream.ts';
export { TokenAuthority, type TokenRefusal, type TokenVerdict } from './stream-token.ts';
export { SpeechPlayer, type SpeechPlayerOptions } from './speech-player.ts';
