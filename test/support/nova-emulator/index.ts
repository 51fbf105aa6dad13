export { NovaEmulator, type NovaEmulatorOptions } from './emulator.ts';
export {
  EmulatedSession, type CloseReason, type EventWaitOptions, type RecordedEvent, type WaitOptions,
} from './emulated-session.ts';
export { novaClient, type NovaClientOptions } from './client.ts';
export {
  MODEL_VOICES, STREAM_EXCEPTION_TYPES,
  type AudioPacing, type AudioSpec, type CannedReplies, type CannedTurn, type EchoReply, type ExceptionFailure, type Failure,
  type FailureTrigger, type FixedTurnDetection, type HttpError, type Reply, type ScriptSource, type Sentence, type SessionInfo,
  type SessionScript, type StallFailure, type StreamExceptionType, type ToolUseSpec, type TurnContext, type TurnDetection,
  type VadTurnDetection,
} from './scripts.ts';
export { tone, silence, rms } from './audio.ts';
export type { PromptConfig } from './validation.ts';
export { RawNovaCall, type NovaEvent, type OpenOptions, type OutputRecord } from './raw-call.ts';
