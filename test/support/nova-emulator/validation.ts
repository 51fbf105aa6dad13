/**
 * The input side of one stream as the service checks it: event order, names, and configuration.
 * `InputValidator.accept` turns a decoded event into a typed action or throws ValidationFailure,
 * which the session reports as a validationException.
 */

export class ValidationFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationFailure';
  }
}

export const INPUT_EVENT_NAMES = [
  'sessionStart', 'promptStart', 'contentStart', 'textInput', 'audioInput', 'toolResult', 'contentEnd', 'promptEnd', 'sessionEnd',
] as const;
export type InputEventName = (typeof INPUT_EVENT_NAMES)[number];

export const INPUT_SAMPLE_RATES: readonly number[] = [8000, 16000];
export const OUTPUT_SAMPLE_RATES: readonly number[] = [8000, 16000, 24000];

export type ContentType = 'TEXT' | 'AUDIO' | 'TOOL';
export type Role = 'SYSTEM' | 'USER' | 'ASSISTANT' | 'TOOL';

export interface OpenContent {
  name: string;
  type: ContentType;
  role: Role;
  interactive: boolean;
  /** AUDIO: input sample rate. */
  sampleRate: number;
  /** TOOL: the toolUseId the result answers. */
  toolUseId: string;
  /** TEXT: textInput pieces; TOOL: toolResult pieces. */
  parts: string[];
  /** Whether the content started before the first AUDIO content (history replay). */
  beforeAudio: boolean;
}

export interface PromptConfig {
  promptName: string;
  outputSampleRate: number;
  voiceId: string;
  toolNames: string[];
}

export type InputAction =
  | { kind: 'sessionStart' }
  | { kind: 'promptStart'; prompt: PromptConfig }
  | { kind: 'contentStart'; content: OpenContent }
  | { kind: 'textInput'; content: OpenContent; text: string }
  | { kind: 'audioInput'; content: OpenContent; pcm: Buffer }
  | { kind: 'toolResult'; content: OpenContent; result: string }
  | { kind: 'contentEnd'; content: OpenContent }
  | { kind: 'promptEnd' }
  | { kind: 'sessionEnd' };

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function need(cond: unknown, message: string): asserts cond {
  if (!cond) throw new ValidationFailure(message);
}

function str(o: Obj, key: string, where: string): string {
  const v = o[key];
  need(typeof v === 'string' && v.length > 0, `${where}.${key} must be a non-empty string`);
  return v;
}

function obj(o: Obj, key: string, where: string): Obj {
  const v = o[key];
  need(isObj(v), `${where}.${key} must be an object`);
  return v;
}

function oneOf<T>(v: unknown, allowed: readonly T[], what: string): T {
  need(allowed.includes(v as T), `${what} must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
  return v as T;
}

type Phase = 'new' | 'session' | 'prompt' | 'prompt-ended' | 'ended';

export class InputValidator {
  private phase: Phase = 'new';
  private promptName = '';
  private readonly open = new Map<string, OpenContent>();
  private contentsSeen = 0;
  private systemSeen = false;
  private audioSeen = false;
  /** toolUseIds the model asked for and the client has not answered yet. */
  readonly pendingToolUses = new Set<string>();

  constructor(private readonly voices: readonly string[]) {}

  get openContents(): ReadonlyMap<string, OpenContent> {
    return this.open;
  }

  get currentPromptName(): string {
    return this.promptName;
  }

  /** Validate one event (`{ event: { <name>: {...} } }`) against the stream so far. */
  accept(wrapper: unknown): InputAction {
    need(isObj(wrapper) && isObj(wrapper.event), 'each chunk must be a JSON object of the form {"event":{"<name>":{…}}}');
    const keys = Object.keys(wrapper.event);
    need(keys.length === 1, `an event must have exactly one member, got ${keys.length ? keys.join(', ') : 'none'}`);
    const name = keys[0]!;
    const body = wrapper.event[name];
    need(isObj(body), `${name} must be an object`);
    need((INPUT_EVENT_NAMES as readonly string[]).includes(name), `unknown input event '${name}'`);
    need(this.phase !== 'ended', `${name} received after sessionEnd`);
    if (name === 'sessionStart') return this.sessionStart(body);
    need(this.phase !== 'new', `${name} received before sessionStart: sessionStart must be the first event`);
    if (name === 'sessionEnd') return this.sessionEnd();
    if (name === 'promptStart') return this.promptStart(body);
    need(this.phase === 'prompt', this.phase === 'session'
      ? `${name} received before promptStart`
      : `${name} received after promptEnd`);
    const promptName = str(body, 'promptName', name);
    need(promptName === this.promptName, `${name}.promptName '${promptName}' does not match the active prompt '${this.promptName}'`);
    switch (name as InputEventName) {
      case 'contentStart': return this.contentStart(body);
      case 'textInput': return this.textInput(body);
      case 'audioInput': return this.audioInput(body);
      case 'toolResult': return this.toolResult(body);
      case 'contentEnd': return this.contentEnd(body);
      default: return this.promptEnd();
    }
  }

  private sessionStart(body: Obj): InputAction {
    need(this.phase === 'new', 'sessionStart received twice');
    const inf = body.inferenceConfiguration;
    if (inf !== undefined) {
      need(isObj(inf), 'sessionStart.inferenceConfiguration must be an object');
      if (inf.maxTokens !== undefined) need(Number.isInteger(inf.maxTokens) && (inf.maxTokens as number) > 0, 'inferenceConfiguration.maxTokens must be a positive integer');
      for (const k of ['topP', 'temperature']) {
        const v = inf[k];
        if (v !== undefined) need(typeof v === 'number' && v >= 0 && v <= 1, `inferenceConfiguration.${k} must be a number between 0 and 1`);
      }
    }
    this.phase = 'session';
    return { kind: 'sessionStart' };
  }

  private promptStart(body: Obj): InputAction {
    need(this.phase === 'session', 'only one prompt per session: promptStart received twice');
    const promptName = str(body, 'promptName', 'promptStart');
    const text = body.textOutputConfiguration;
    if (text !== undefined) {
      need(isObj(text), 'promptStart.textOutputConfiguration must be an object');
      oneOf(text.mediaType, ['text/plain'], 'textOutputConfiguration.mediaType');
    }
    const audio = obj(body, 'audioOutputConfiguration', 'promptStart');
    oneOf(audio.mediaType, ['audio/lpcm'], 'audioOutputConfiguration.mediaType');
    const outputSampleRate = oneOf(audio.sampleRateHertz, OUTPUT_SAMPLE_RATES, 'audioOutputConfiguration.sampleRateHertz');
    oneOf(audio.sampleSizeBits, [16], 'audioOutputConfiguration.sampleSizeBits');
    oneOf(audio.channelCount, [1], 'audioOutputConfiguration.channelCount');
    oneOf(audio.encoding, ['base64'], 'audioOutputConfiguration.encoding');
    if (audio.audioType !== undefined) oneOf(audio.audioType, ['SPEECH'], 'audioOutputConfiguration.audioType');
    const voiceId = str(audio, 'voiceId', 'audioOutputConfiguration');
    need(this.voices.includes(voiceId), `audioOutputConfiguration.voiceId '${voiceId}' is not a voice of this model (known: ${this.voices.join(', ')})`);
    const toolNames: string[] = [];
    const toolUse = body.toolUseOutputConfiguration;
    if (toolUse !== undefined) {
      need(isObj(toolUse), 'promptStart.toolUseOutputConfiguration must be an object');
      oneOf(toolUse.mediaType, ['application/json'], 'toolUseOutputConfiguration.mediaType');
    }
    const toolCfg = body.toolConfiguration;
    if (toolCfg !== undefined) {
      need(isObj(toolCfg) && Array.isArray(toolCfg.tools), 'promptStart.toolConfiguration.tools must be an array');
      toolCfg.tools.forEach((t: unknown, i: number) => {
        const where = `toolConfiguration.tools[${i}]`;
        need(isObj(t) && isObj(t.toolSpec), `${where}.toolSpec must be an object`);
        const spec = t.toolSpec;
        const name = str(spec, 'name', `${where}.toolSpec`);
        need(!toolNames.includes(name), `${where}: duplicate tool name '${name}'`);
        const schema = obj(spec, 'inputSchema', `${where}.toolSpec`);
        need(typeof schema.json === 'string', `${where}.toolSpec.inputSchema.json must be a JSON Schema serialised as a string`);
        try {
          need(isObj(JSON.parse(schema.json)), `${where}.toolSpec.inputSchema.json must encode a JSON object`);
        } catch (e) {
          if (e instanceof ValidationFailure) throw e;
          throw new ValidationFailure(`${where}.toolSpec.inputSchema.json is not valid JSON`);
        }
        toolNames.push(name);
      });
    }
    this.phase = 'prompt';
    this.promptName = promptName;
    return { kind: 'promptStart', prompt: { promptName, outputSampleRate, voiceId, toolNames } };
  }

  private contentStart(body: Obj): InputAction {
    const name = str(body, 'contentName', 'contentStart');
    need(!this.open.has(name), `contentStart: content '${name}' is already open`);
    const type = oneOf(body.type, ['TEXT', 'AUDIO', 'TOOL'] as const, 'contentStart.type');
    const role = oneOf(body.role, ['SYSTEM', 'USER', 'ASSISTANT', 'TOOL'] as const, 'contentStart.role');
    need(typeof body.interactive === 'boolean', 'contentStart.interactive must be a boolean');
    const content: OpenContent = {
      name, type, role, interactive: body.interactive, sampleRate: 0, toolUseId: '', parts: [], beforeAudio: !this.audioSeen,
    };
    if (type === 'TEXT') {
      need(role !== 'TOOL', 'a TEXT content cannot have role TOOL');
      const cfg = obj(body, 'textInputConfiguration', 'contentStart');
      oneOf(cfg.mediaType, ['text/plain'], 'textInputConfiguration.mediaType');
      if (role === 'SYSTEM') {
        need(!this.systemSeen, 'the SYSTEM prompt may be sent only once per prompt');
        need(this.contentsSeen === 0, 'the SYSTEM prompt must be the first content of the prompt');
        this.systemSeen = true;
      }
    } else if (type === 'AUDIO') {
      need(role === 'USER', `an AUDIO input content must have role USER (got ${role})`);
      for (const c of this.open.values()) need(c.type !== 'AUDIO', `contentStart: AUDIO content '${name}' started while '${c.name}' is still open`);
      const cfg = obj(body, 'audioInputConfiguration', 'contentStart');
      oneOf(cfg.mediaType, ['audio/lpcm'], 'audioInputConfiguration.mediaType');
      content.sampleRate = oneOf(cfg.sampleRateHertz, INPUT_SAMPLE_RATES, 'audioInputConfiguration.sampleRateHertz');
      oneOf(cfg.sampleSizeBits, [16], 'audioInputConfiguration.sampleSizeBits');
      oneOf(cfg.channelCount, [1], 'audioInputConfiguration.channelCount');
      oneOf(cfg.encoding, ['base64'], 'audioInputConfiguration.encoding');
      if (cfg.audioType !== undefined) oneOf(cfg.audioType, ['SPEECH'], 'audioInputConfiguration.audioType');
      this.audioSeen = true;
    } else {
      need(role === 'TOOL', `a TOOL content must have role TOOL (got ${role})`);
      const cfg = obj(body, 'toolResultInputConfiguration', 'contentStart');
      const id = str(cfg, 'toolUseId', 'toolResultInputConfiguration');
      need(this.pendingToolUses.has(id), `toolResultInputConfiguration.toolUseId '${id}' does not match a pending toolUse`);
      if (cfg.type !== undefined) oneOf(cfg.type, ['TEXT'], 'toolResultInputConfiguration.type');
      content.toolUseId = id;
    }
    this.contentsSeen++;
    this.open.set(name, content);
    return { kind: 'contentStart', content };
  }

  private openContent(body: Obj, event: string, type: ContentType): OpenContent {
    const name = str(body, 'contentName', event);
    const c = this.open.get(name);
    need(c, `${event} for content '${name}', which is not open (contentStart first)`);
    need(c.type === type, `${event} sent to ${c.type} content '${name}'`);
    return c;
  }

  private textInput(body: Obj): InputAction {
    const content = this.openContent(body, 'textInput', 'TEXT');
    need(typeof body.content === 'string', 'textInput.content must be a string');
    content.parts.push(body.content);
    return { kind: 'textInput', content, text: body.content };
  }

  private audioInput(body: Obj): InputAction {
    const content = this.openContent(body, 'audioInput', 'AUDIO');
    need(typeof body.content === 'string', 'audioInput.content must be a base64 string');
    const pcm = Buffer.from(body.content, 'base64');
    need((pcm.length & 1) === 0, `audioInput.content must hold whole 16-bit samples (got ${pcm.length} bytes)`);
    return { kind: 'audioInput', content, pcm };
  }

  private toolResult(body: Obj): InputAction {
    const content = this.openContent(body, 'toolResult', 'TOOL');
    need(typeof body.content === 'string', 'toolResult.content must be a string (JSON serialised as text)');
    content.parts.push(body.content);
    return { kind: 'toolResult', content, result: body.content };
  }

  private contentEnd(body: Obj): InputAction {
    const name = str(body, 'contentName', 'contentEnd');
    const content = this.open.get(name);
    need(content, `contentEnd for content '${name}', which is not open`);
    if (content.type === 'TOOL') {
      need(content.parts.length > 0, `contentEnd for TOOL content '${name}' without a toolResult`);
      this.pendingToolUses.delete(content.toolUseId);
    }
    this.open.delete(name);
    return { kind: 'contentEnd', content };
  }

  private promptEnd(): InputAction {
    const still = [...this.open.keys()];
    need(still.length === 0, `promptEnd while content ${still.map((n) => `'${n}'`).join(', ')} is still open (send contentEnd first)`);
    this.phase = 'prompt-ended';
    return { kind: 'promptEnd' };
  }

  private sessionEnd(): InputAction {
    need(this.phase !== 'prompt', `sessionEnd while prompt '${this.promptName}' is still open (send promptEnd first)`);
    this.phase = 'ended';
    return { kind: 'sessionEnd' };
  }
}
