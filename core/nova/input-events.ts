/**
 * The input events of a Nova Sonic prompt, as the JSON the SDK wraps in `{ chunk: { bytes } }`.
 * Control events are rare and built with JSON.stringify; audioInput is the hot path and is built
 * by concatenating a precomputed prefix with the base64 audio (no object, no stringify).
 */

export type HistoryRole = 'USER' | 'ASSISTANT';

export interface NovaTool {
  name: string;
  description: string;
  /** JSON Schema of the tool's input; sent to Nova as a JSON string. */
  inputSchema: Record<string, unknown>;
}

export interface PromptSetup {
  promptName: string;
  voiceId: string;
  outputSampleRate: number;
  tools: readonly NovaTool[] | undefined;
}

/** Nova's limit for one textInput event; longer text is split over several in the same content. */
export const TEXT_INPUT_MAX_BYTES = 1024;
/** Nova's limit for the whole replayed history; older messages are dropped beyond it. */
export const HISTORY_MAX_BYTES = 40 * 1024;

const event = (name: string, body: Record<string, unknown>): string => JSON.stringify({ event: { [name]: body } });

export function sessionStart(inference: { maxTokens: number; topP: number; temperature: number }): string {
  return event('sessionStart', { inferenceConfiguration: inference });
}

export function promptStart(p: PromptSetup): string {
  const body: Record<string, unknown> = {
    promptName: p.promptName,
    textOutputConfiguration: { mediaType: 'text/plain' },
    audioOutputConfiguration: {
      mediaType: 'audio/lpcm', sampleRateHertz: p.outputSampleRate, sampleSizeBits: 16, channelCount: 1,
      voiceId: p.voiceId, encoding: 'base64', audioType: 'SPEECH',
    },
  };
  if (p.tools && p.tools.length) {
    body.toolUseOutputConfiguration = { mediaType: 'application/json' };
    body.toolConfiguration = {
      tools: p.tools.map((t) => ({ toolSpec: { name: t.name, description: t.description, inputSchema: { json: JSON.stringify(t.inputSchema) } } })),
    };
  }
  return event('promptStart', body);
}

/** contentStart, one textInput per ≤1 KB piece, contentEnd. */
export function textContent(promptName: string, contentName: string, role: 'SYSTEM' | HistoryRole, text: string, interactive: boolean): string[] {
  const out = [event('contentStart', {
    promptName, contentName, type: 'TEXT', role, interactive, textInputConfiguration: { mediaType: 'text/plain' },
  })];
  const pieces = role === 'SYSTEM' ? [text] : splitUtf8(text, TEXT_INPUT_MAX_BYTES);
  for (const content of pieces) out.push(event('textInput', { promptName, contentName, content }));
  out.push(event('contentEnd', { promptName, contentName }));
  return out;
}

export function audioContentStart(promptName: string, contentName: string, sampleRate: number): string {
  return event('contentStart', {
    promptName, contentName, type: 'AUDIO', role: 'USER', interactive: true,
    audioInputConfiguration: { mediaType: 'audio/lpcm', sampleRateHertz: sampleRate, sampleSizeBits: 16, channelCount: 1, audioType: 'SPEECH', encoding: 'base64' },
  });
}

/** The part of an audioInput event before the base64 content; close it with AUDIO_SUFFIX. */
export function audioPrefix(promptName: string, contentName: string): string {
  return `{"event":{"audioInput":{"promptName":${JSON.stringify(promptName)},"contentName":${JSON.stringify(contentName)},"content":"`;
}
export const AUDIO_SUFFIX = '"}}}';

export function toolResult(promptName: string, contentName: string, toolUseId: string, content: string): string[] {
  return [
    event('contentStart', {
      promptName, contentName, type: 'TOOL', role: 'TOOL', interactive: false,
      toolResultInputConfiguration: { toolUseId, type: 'TEXT', textInputConfiguration: { mediaType: 'text/plain' } },
    }),
    event('toolResult', { promptName, contentName, content }),
    event('contentEnd', { promptName, contentName }),
  ];
}

export function contentEnd(promptName: string, contentName: string): string {
  return event('contentEnd', { promptName, contentName });
}

export function promptEnd(promptName: string): string {
  return event('promptEnd', { promptName });
}

export function sessionEnd(): string {
  return event('sessionEnd', {});
}

/** Pieces of at most `maxBytes` UTF-8 bytes, never splitting a code point. */
export function splitUtf8(text: string, maxBytes: number): string[] {
  if (Buffer.byteLength(text) <= maxBytes) return [text];
  const pieces: string[] = [];
  let piece = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) {
      pieces.push(piece);
      piece = '';
      bytes = 0;
    }
    piece += ch;
    bytes += n;
  }
  if (piece) pieces.push(piece);
  return pieces;
}

/** The newest messages whose text fits in `maxBytes` (Nova rejects a larger history). */
export function trimHistory<T extends { text: string }>(history: readonly T[], maxBytes = HISTORY_MAX_BYTES): { kept: T[]; dropped: number } {
  let total = 0;
  let i = history.length;
  while (i > 0) {
    const n = Buffer.byteLength(history[i - 1]!.text);
    if (total + n > maxBytes) break;
    total += n;
    i--;
  }
  return { kept: history.slice(i), dropped: i };
}
