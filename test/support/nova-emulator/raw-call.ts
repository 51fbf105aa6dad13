/**
 * One call driven by the bare SDK, with no Switchboard code: what the emulator's own tests and the
 * benchmark's "emulator alone" baseline use. Input events are queued and fed to the SDK's body
 * iterable as they are sent; output events are collected and can be awaited.
 *
 * It follows the SDK pitfall the fixture README describes: send() only resolves after the first
 * output event, so input is fed before (and independently of) awaiting send().
 */
import { randomUUID } from 'node:crypto';
import { InvokeModelWithBidirectionalStreamCommand, type BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { withTimeout } from './emulated-session.ts';

export type NovaEvent = Record<string, Record<string, unknown>>;

export interface OutputRecord {
  name: string;
  body: Record<string, unknown>;
}

export interface OpenOptions {
  promptName?: string;
  voiceId?: string;
  inputRate?: 8000 | 16000;
  outputRate?: 8000 | 16000 | 24000;
  system?: string;
  history?: Array<{ role: 'USER' | 'ASSISTANT'; text: string }>;
  tools?: Array<{ name: string; description?: string; schema?: Record<string, unknown> }>;
  /** Open the audio content too. Default true. */
  audio?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class RawNovaCall {
  readonly outputs: OutputRecord[] = [];
  /** The error the response stream (or send()) failed with, once it has. */
  error: unknown = undefined;
  /** Resolves when the response stream has ended, cleanly or not. */
  readonly finished: Promise<void>;
  promptName = '';
  audioContentName = '';
  inputRate = 16000;

  private queue: NovaEvent[] = [];
  private ended = false;
  private wake: (() => void) | null = null;
  private waiters: Array<() => void> = [];
  /** The response stream is over (ended or failed). */
  private settled = false;

  constructor(client: BedrockRuntimeClient, modelId = 'amazon.nova-sonic-v1:0', options: { abortSignal?: AbortSignal } = {}) {
    const body = this.input();
    const pending = client.send(new InvokeModelWithBidirectionalStreamCommand({ modelId, body }), { abortSignal: options.abortSignal });
    this.finished = pending.then(async (res) => {
      if (!res.body) return;
      for await (const part of res.body) {
        const bytes = part.chunk?.bytes;
        if (!bytes) continue;
        const parsed = JSON.parse(decoder.decode(bytes)) as { event: Record<string, Record<string, unknown>> };
        const name = Object.keys(parsed.event)[0]!;
        this.outputs.push({ name, body: parsed.event[name]! });
        this.notify();
      }
    }).catch((e: unknown) => {
      this.error = e;
    }).finally(() => {
      this.settled = true;
      this.end();
      this.notify();
    });
  }

  /** Queue one input event: `send({ audioInput: {...} })`. */
  send(event: NovaEvent): void {
    if (this.ended) return;
    this.queue.push(event);
    this.wake?.();
  }

  /** Finish the input iterable (the SDK then sends its end-of-input frame). */
  end(): void {
    this.ended = true;
    this.wake?.();
  }

  /** sessionStart, promptStart, SYSTEM text, history, then the AUDIO content. */
  open(options: OpenOptions = {}): void {
    this.promptName = options.promptName ?? randomUUID();
    this.inputRate = options.inputRate ?? 16000;
    const promptName = this.promptName;
    this.send({ sessionStart: { inferenceConfiguration: { maxTokens: 1024, topP: 0.9, temperature: 0.7 } } });
    const promptStart: Record<string, unknown> = {
      promptName,
      textOutputConfiguration: { mediaType: 'text/plain' },
      audioOutputConfiguration: {
        mediaType: 'audio/lpcm', sampleRateHertz: options.outputRate ?? 16000, sampleSizeBits: 16, channelCount: 1,
        voiceId: options.voiceId ?? 'matthew', encoding: 'base64', audioType: 'SPEECH',
      },
    };
    if (options.tools) {
      promptStart.toolUseOutputConfiguration = { mediaType: 'application/json' };
      promptStart.toolConfiguration = {
        tools: options.tools.map((t) => ({
          toolSpec: { name: t.name, description: t.description ?? t.name, inputSchema: { json: JSON.stringify(t.schema ?? { type: 'object', properties: {} }) } },
        })),
      };
    }
    this.send({ promptStart });
    if (options.system !== undefined) this.text('SYSTEM', options.system, false);
    for (const h of options.history ?? []) this.text(h.role, h.text, false);
    if (options.audio ?? true) this.startAudio();
  }

  text(role: 'SYSTEM' | 'USER' | 'ASSISTANT', content: string, interactive: boolean): void {
    const contentName = randomUUID();
    const { promptName } = this;
    this.send({ contentStart: { promptName, contentName, type: 'TEXT', role, interactive, textInputConfiguration: { mediaType: 'text/plain' } } });
    this.send({ textInput: { promptName, contentName, content } });
    this.send({ contentEnd: { promptName, contentName } });
  }

  startAudio(): void {
    this.audioContentName = randomUUID();
    this.send({
      contentStart: {
        promptName: this.promptName, contentName: this.audioContentName, type: 'AUDIO', role: 'USER', interactive: true,
        audioInputConfiguration: { mediaType: 'audio/lpcm', sampleRateHertz: this.inputRate, sampleSizeBits: 16, channelCount: 1, audioType: 'SPEECH', encoding: 'base64' },
      },
    });
  }

  /** Send PCM as audioInput events of `frameMs` each (default 32 ms). */
  audio(pcm: Buffer, frameMs = 32): void {
    const frameBytes = Math.round((this.inputRate * frameMs) / 1000) * 2;
    for (let off = 0; off < pcm.length; off += frameBytes) {
      this.send({ audioInput: { promptName: this.promptName, contentName: this.audioContentName, content: pcm.subarray(off, off + frameBytes).toString('base64') } });
    }
  }

  toolResult(toolUseId: string, result: unknown): void {
    const contentName = randomUUID();
    const { promptName } = this;
    this.send({
      contentStart: {
        promptName, contentName, type: 'TOOL', role: 'TOOL', interactive: false,
        toolResultInputConfiguration: { toolUseId, type: 'TEXT', textInputConfiguration: { mediaType: 'text/plain' } },
      },
    });
    this.send({ toolResult: { promptName, contentName, content: JSON.stringify(result) } });
    this.send({ contentEnd: { promptName, contentName } });
  }

  /** contentEnd for the audio, promptEnd, sessionEnd, then end the input. */
  close(): void {
    if (this.audioContentName) this.send({ contentEnd: { promptName: this.promptName, contentName: this.audioContentName } });
    this.send({ promptEnd: { promptName: this.promptName } });
    this.send({ sessionEnd: {} });
    this.end();
  }

  /** The first output event named `name` (from index `from`) for which `where` holds. */
  async waitFor(name: string, options: { where?: (body: Record<string, unknown>) => boolean; from?: number; timeoutMs?: number } = {}): Promise<OutputRecord & { index: number }> {
    const find = (): (OutputRecord & { index: number }) | undefined => {
      for (let i = options.from ?? 0; i < this.outputs.length; i++) {
        const o = this.outputs[i]!;
        if (o.name === name && (!options.where || options.where(o.body))) return { ...o, index: i };
      }
      return undefined;
    };
    const timeoutMs = options.timeoutMs ?? 5000;
    return withTimeout(new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = find();
        if (hit) resolve(hit);
        else if (this.ended && this.settled) reject(new Error(`stream ended without output '${name}' (error: ${String(this.error)})`));
        else this.waiters.push(check);
      };
      check();
    }), timeoutMs, () => `no output '${name}' within ${timeoutMs} ms; got ${this.outputs.map((o) => o.name).join(',')}`);
  }

  /** Concatenated decoded audioOutput bytes (optionally from output index `from` up to `to`). */
  audioOut(from = 0, to = this.outputs.length): Buffer {
    return Buffer.concat(this.outputs.slice(from, to).filter((o) => o.name === 'audioOutput').map((o) => Buffer.from(o.body.content as string, 'base64')));
  }

  names(): string[] {
    return this.outputs.map((o) => o.name);
  }

  private notify(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  private async *input(): AsyncGenerator<{ chunk: { bytes: Uint8Array } }> {
    try {
      for (;;) {
        while (this.queue.length) {
          const ev = this.queue.shift()!;
          yield { chunk: { bytes: encoder.encode(JSON.stringify({ event: ev })) } };
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => { this.wake = resolve; });
        this.wake = null;
      }
    } finally {
      this.ended = true;
    }
  }
}
