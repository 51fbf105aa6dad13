import type { LoadedStep } from '../plugins/host.ts';

export type Section = 'steps' | 'on_error' | 'on_hangup';

/** One compiled step. `next`, `on` and `goto` are indexes into Plan.steps (or null: the section ends). */
export interface PlanStep {
  readonly index: number;
  readonly id: string;
  /** Whether the id was written in the flow (only those can be jump targets or `${steps.<id>}`). */
  readonly named: boolean;
  /** Plugin name, or `goto`. */
  readonly name: string;
  readonly section: Section;
  readonly options: Readonly<Record<string, unknown>>;
  readonly plugin: LoadedStep | undefined;
  readonly next: number | null;
  readonly on: Readonly<Record<string, number | null>>;
  /** For `goto` steps: where to go. */
  readonly goto: number | null | undefined;
  readonly line: number;
  readonly column: number;
}

export interface FlowMatch {
  destination: readonly string[];
  context: readonly string[];
  domain: readonly string[];
  direction: 'inbound' | 'outbound' | 'any';
}

/** A compiled flow: immutable, shared by every call that starts on it. */
export interface Plan {
  readonly name: string;
  readonly file: string;
  readonly description: string | undefined;
  readonly trigger: 'inbound' | 'outbound';
  readonly isDefault: boolean;
  readonly match: FlowMatch;
  readonly vars: Readonly<Record<string, unknown>>;
  readonly steps: readonly PlanStep[];
  /** First index of each section, or null when the flow has none. */
  readonly entry: Readonly<Record<Section, number | null>>;
  readonly maxSteps: number;
}
