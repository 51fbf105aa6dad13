/**
 * How an emulated Nova Sonic session behaves: turn taking, what it answers, how fast, and how it
 * fails. A script is plain data (plus two optional callbacks), chosen per session.
 */

export const MODEL_VOICES: Readonly<Record<string, readonly string[]>> = {
  'amazon.nova-sonic-v1:0': ['tiffany', 'matthew', 'amy', 'ambre', 'florian', 'beatrice', 'lorenzo', 'greta', 'lennart', 'lupe', 'carlos'],
  'amazon.nova-2-sonic-v1:0': [
    'tiffany', 'matthew', 'amy', 'olivia', 'kiara', 'arjun', 'ambre', 'florian',
    'beatrice', 'lorenzo', 'tina', 'lennart', 'lupe', 'carlos', 'carolina', 'leo',
  ],
};

/** The mid-stream exceptions of InvokeModelWithBidirectionalStream (the `:exception-type` values). */
export type StreamExceptionType =
  | 'validationException'
  | 'throttlingException'
  | 'modelTimeoutException'
  | 'modelStreamErrorException'
  | 'internalServerException'
  | 'serviceUnavailableException';

export const STREAM_EXCEPTION_TYPES: readonly StreamExceptionType[] = [
  'validationException', 'throttlingException', 'modelTimeoutException',
  'modelStreamErrorException', 'internalServerException', 'serviceUnavailableException',
];

/** Energy VAD: speech is a frame whose RMS (16-bit units) is at least `rmsThreshold`. */
export interface VadTurnDetection {
  /** Default 500 (about -36 dBFS). */
  rmsThreshold?: number;
  /** Loud audio needed before it counts as speech (a barge-in, or the start of a user turn). Default 60. */
  minSpeechMs?: number;
  /** Quiet audio after speech that ends the user turn. Default 500. */
  endSilenceMs?: number;
}

/** Deterministic: the user turn ends after this much audio (any content) since the model last listened. */
export interface FixedTurnDetection {
  afterAudioMs: number;
  /** Barge-in still needs speech; it is found with this VAD. */
  bargeIn?: VadTurnDetection;
}

export type TurnDetection = VadTurnDetection | FixedTurnDetection;

/** Audio the model speaks: raw LPCM at the prompt's output rate, or a synthesized sine tone. */
export type AudioSpec = Buffer | Uint8Array | { ms: number; hz?: number; amplitude?: number };

export interface TurnContext {
  /** Zero-based index of this model turn in the session. */
  turn: number;
  /** What the client sent back for this turn's toolUse, when there was one. */
  toolResult?: string;
  /** The audio of the caller's turn (input rate), when the turn was ended by audio. */
  callerAudioMs: number;
}

/** One spoken sentence: SPECULATIVE text, the audio, then FINAL text (each part optional). */
export interface Sentence {
  text?: string | ((ctx: TurnContext) => string);
  audio?: AudioSpec;
}

export interface ToolUseSpec {
  toolName: string;
  /** Serialised to the toolUse `content` string. */
  input: unknown;
  /** Default: a fresh UUID. */
  toolUseId?: string;
}

export interface CannedTurn {
  /** The ASR transcript of the caller's turn, emitted as USER text. Default: none is sent. */
  userTranscript?: string;
  /** Asked before speaking; the turn waits for the client's toolResult, then continues. */
  toolUse?: ToolUseSpec;
  /** Shorthand for a single sentence. */
  text?: Sentence['text'];
  audio?: AudioSpec;
  /** More than one sentence: each is its own SPECULATIVE/AUDIO/FINAL group (PARTIAL_TURN until the last). */
  sentences?: Sentence[];
  /** Think time before the first output of this turn (scaled by timeScale). Overrides script.responseDelayMs. */
  delayMs?: number;
  /**
   * After this turn the emulator sends completionEnd and ends the response stream cleanly, as if
   * the service closed it. Real Nova does not do this on its own; it tests the client's handling
   * of a server-side close.
   */
  endSession?: boolean;
}

export interface EchoReply {
  echo: true;
  /** USER transcript for each echoed turn; default `[echo <n> ms]`. */
  userTranscript?: string | ((ctx: TurnContext) => string);
  /** ASSISTANT text sent around the echoed audio; default none. */
  text?: string;
}

export interface CannedReplies {
  turns: CannedTurn[];
  /** What happens once `turns` are used up. Default 'silent' (the model listens and says nothing). */
  then?: 'silent' | 'repeat-last' | 'echo';
}

export type Reply = 'echo' | 'silent' | EchoReply | CannedTurn[] | CannedReplies;

/** When a scripted failure fires: the first of the given conditions to be met. */
export interface FailureTrigger {
  /** After this many input events have been received (1 = right after sessionStart). */
  afterInputEvents?: number;
  /** After this many output events have been sent (0 = before the first one). */
  afterOutputEvents?: number;
  /** This long after the stream opened (scaled by timeScale). */
  afterMs?: number;
  /** When the client sends an event of this name (e.g. 'toolResult'). */
  onInputEvent?: string;
}

export interface ExceptionFailure extends FailureTrigger {
  exception: StreamExceptionType;
  message?: string;
}

export interface StallFailure extends FailureTrigger {
  /** Stop sending anything (input is still read and recorded). */
  stall: true;
}

export type Failure = ExceptionFailure | StallFailure;

/** An HTTP-level error before the stream starts, as the service sends for auth, quota or bad model ids. */
export interface HttpError {
  status: number;
  /** Sent as `x-amzn-errortype`, e.g. 'ThrottlingException', 'AccessDeniedException'. */
  errorType: string;
  message?: string;
}

/**
 * How audioOutput events are paced. Real Nova sends audio faster than real time, in bursts; the
 * emulator sends the first `burstMs` at once, then keeps `speed`× real time (scaled by timeScale),
 * sending whatever is due whenever it wakes (at most every ~40 ms), so events arrive in small bursts.
 */
export interface AudioPacing {
  /** Size of each audioOutput event in ms of audio. Default 40. */
  chunkMs?: number;
  /** Speed relative to real time; Infinity sends everything at once. Default 2. */
  speed?: number;
  /** This much audio is sent at once before pacing begins. Default 200. */
  burstMs?: number;
}

export interface SessionScript {
  turnDetection?: TurnDetection;
  /** Default 'echo'. */
  reply?: Reply;
  /** Think time before each turn's first output (scaled). Default 0. */
  responseDelayMs?: number;
  audioPacing?: AudioPacing;
  /**
   * Barge-in: speech from the caller while the model is speaking interrupts it. "Speaking" lasts
   * until the turn's audio would have finished playing, not just until it was sent. Default true.
   */
  bargeIn?: boolean;
  /** 'slow': wait this long before every output event (scaled). */
  outputDelayMs?: number;
  failure?: Failure | Failure[];
  /** Refuse the stream before it starts. */
  httpError?: HttpError;
  /** The stream's lifetime limit before modelTimeoutException. Default 480000 (scaled). */
  sessionLimitMs?: number;
  /** Voices accepted for this session's model. Default: MODEL_VOICES[modelId]. */
  voices?: readonly string[];
  /** Send completionStart/completionEnd around every turn. Default false: once per prompt. */
  completionPerTurn?: boolean;
  /** Whether an interactive TEXT USER content starts a turn. Default: true for Nova 2, false for v1. */
  textTurns?: boolean;
}

export interface SessionInfo {
  /** Emulator-assigned id, also sent as the response's x-amzn-requestid. */
  id: string;
  modelId: string;
  /** 0 for the first stream this emulator saw, 1 for the next, … */
  index: number;
  /** The request headers, lower-cased (authorization included: this is a test double). */
  headers: Readonly<Record<string, string>>;
}

export type ScriptSource = SessionScript | ((session: SessionInfo) => SessionScript);
