import type { Config } from '../config.ts';
import type { Call } from '../esl/index.ts';
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { StepControl } from '../flow/call-control.ts';
import type { MediaServer } from '../media/index.ts';
import type { AudioService } from '../audio/index.ts';
import type { Metrics } from '../metrics.ts';
import type { LoadedTool } from './host.ts';
import type { Logger } from '../log.ts';

/** A JSON Schema object (draft-07 subset used by ajv and yaml-language-server). */
export type JsonSchema = Record<string, unknown>;

export interface PluginMeta {
  /** The key used in YAML (`transfer:`) or in a Nova step's `tools:` list. */
  name: string;
  version: string;
  /** Semver range of the Switchboard engine this plugin works with, e.g. `^0.1`. */
  engine: string;
  description: string;
  /** JSON Schema of the step's options (steps) or of the tool's input (tools). */
  schema: JsonSchema;
}

export interface StepMeta extends PluginMeta {
  /** Outcomes this step can end with, besides `ok` and `error` (e.g. `busy`, `timeout`). Used to check `on:` keys at load time. */
  outcomes?: readonly string[];
  /** Options that may be given as the only value: `greet: sounds/hi.wav` means `greet: { file: sounds/hi.wav }`. */
  shorthand?: string;
  /** Whether the step needs an answered call; the runner answers first when true and the call is not answered. */
  needsAnswer?: boolean;
  /** The flow ends after this step unless an `on:` branch says otherwise (hangup, blind transfer). */
  terminal?: boolean | ((options: Record<string, unknown>) => boolean);
  /** Outcomes this step can end with that only the flow knows (`webhook`: whatever the server answers): any `on:` key is accepted. */
  openOutcomes?: boolean;
  /** Load-time checks beyond the schema (e.g. a voice that belongs to the model): each string is an error. */
  check?(options: Record<string, unknown>, env: { tools: ReadonlyMap<string, LoadedTool> }): string[];
  /** Load-time facts about the options: step ids it may jump to, flow variables it defines. */
  analyse?(options: Record<string, unknown>): { jumps?: string[]; defines?: string[] };
  /** Named message templates, so tests assert ids rather than prose. */
  messages?: Record<string, string>;
}

/** What a step may use. Never modesl, never the raw socket. */
export interface StepContext {
  readonly call: Call;
  /** Flow variables; a step may set new ones (`set`), visible to later steps as `${vars.name}`. */
  readonly vars: Record<string, unknown>;
  /** Results of earlier steps by step id: `${steps.<id>.<field>}`. */
  readonly steps: Readonly<Record<string, StepResult>>;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly config: Readonly<Config>;
  readonly flow: { readonly name: string; readonly file: string };
  readonly step: { readonly id: string; readonly name: string };
  /** Commands from outside (REST: answer, bridge, transfer, hangup) for steps that wait for them. */
  readonly control: StepControl;
  readonly services: StepServices;
}

/** Shared service parts a step may use. */
export interface StepServices {
  /** The websocket server mod_audio_stream connects to; undefined when the service runs without one. */
  readonly media: MediaServer | undefined;
  /** The Bedrock client for Nova Sonic (one per service, created on first use). */
  nova(): BedrockRuntimeClient;
  /** Tool plugins (kind: tool) by name. */
  readonly tools: ReadonlyMap<string, LoadedTool>;
  /** The service's Prometheus metrics, when there is a service. */
  readonly metrics?: Metrics;
  /** Audio conversion (core/audio): now, or queued for a worker; undefined when the runner has none. */
  readonly audio?: AudioService;
}

/** A step's result: `outcome` picks the `on:` branch; every other field is readable as `${steps.<id>.<field>}`. */
export interface StepResult {
  outcome?: string;
  [field: string]: unknown;
}

export interface StepInstance<O> {
  run(options: O, signal: AbortSignal): Promise<StepResult | void>;
}

export interface StepPlugin<O = Record<string, unknown>> {
  meta: StepMeta & { kind: 'step' };
  create(ctx: StepContext): StepInstance<O>;
}

export interface ToolContext {
  readonly call: Call | undefined;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly config: Readonly<Config>;
  /** Options given to the tool in the flow (`tools: [{ lookup_caller: { file: … } }]`). */
  readonly options: Readonly<Record<string, unknown>>;
}

export interface ToolResult {
  /** JSON sent back to the model. */
  result: unknown;
  /** Ends the Nova step with this outcome (e.g. `transfer_to_human`). */
  outcome?: string;
}

export interface ToolPlugin<I = Record<string, unknown>> {
  meta: PluginMeta & { kind: 'tool'; timeoutMs?: number; optionsSchema?: JsonSchema };
  run(input: I, ctx: ToolContext): Promise<ToolResult>;
}

export type Plugin = StepPlugin<never> | ToolPlugin<never>;

/** Whether a step ends the flow after it runs with these options. */
export function isTerminal(meta: StepMeta, options: Record<string, unknown>): boolean {
  return typeof meta.terminal === 'function' ? meta.terminal(options) : meta.terminal === true;
}

/** Typing helper for plugin authors: `export default defineStep<Options>({ meta, create })`. */
export function defineStep<O>(plugin: { meta: StepMeta & { kind?: 'step' }; create(ctx: StepContext): StepInstance<O> }): StepPlugin<O> {
  return { ...plugin, meta: { ...plugin.meta, kind: 'step' } };
}

export function defineTool<I>(plugin: { meta: PluginMeta & { kind?: 'tool'; timeoutMs?: number; optionsSchema?: JsonSchema }; run(input: I, ctx: ToolContext): Promise<ToolResult> }): ToolPlugin<I> {
  return { ...plugin, meta: { ...plugin.meta, kind: 'tool' } };
}
