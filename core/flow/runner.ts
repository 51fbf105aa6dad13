import type { Config } from '../config.ts';
import { isSwitchboardError, SwitchboardError, type ErrorCode } from '../errors.ts';
import type { Call } from '../esl/index.ts';
import type { Logger } from '../log.ts';
import { isTerminal, type StepContext, type StepResult, type StepServices } from '../plugins/types.ts';
import type { Plan, PlanStep, Section } from './plan.ts';
import { CallControl } from './call-control.ts';
import { render, type Scope } from './template.ts';

/** One line of a call's timeline, as `switchboard demo` and `simulate` print it. */
export interface TimelineEntry {
  /** Milliseconds since the flow started. */
  at: number;
  kind: 'flow-start' | 'step-start' | 'step-end' | 'error' | 'hangup' | 'flow-end';
  step?: string;
  name?: string;
  outcome?: string;
  detail?: string;
}

export interface RunOptions {
  config: Readonly<Config>;
  /** Mailboxes for commands from outside; a private one when not given. */
  control?: CallControl;
  services?: StepServices;
  logger: Logger;
  onTimeline?: (entry: TimelineEntry) => void;
  /** Step durations, for metrics. */
  onStepDone?: (name: string, seconds: number, outcome: string) => void;
}

export interface FlowResult {
  /** How the flow ended: `completed`, `hangup` (the caller left), `error`, `max-steps`. */
  ending: 'completed' | 'hangup' | 'error' | 'max-steps';
  steps: Record<string, StepResult>;
  stepsRun: number;
}

/**
 * Walks a compiled plan on one call. Each step's outcome picks its `on:` branch, else the next
 * step. A failing step is logged once (call id, flow, step, code) and goes to its `on: { error }`
 * branch, else to the flow's `on_error` steps, else the call is hung up. When the caller hangs
 * up, the running step is aborted and the `on_hangup` steps run.
 */
export async function runFlow(plan: Plan, call: Call, options: RunOptions): Promise<FlowResult> {
  const started = performance.now();
  const log = options.logger.child({ callId: call.id, flow: plan.name });
  const timeline = (entry: Omit<TimelineEntry, 'at'>): void => options.onTimeline?.({ at: Math.round(performance.now() - started), ...entry });
  const results: Record<string, StepResult> = {};
  const control = options.control ?? new CallControl();
  options = { ...options, control };
  control.open(call.id);
  const hangupController = new AbortController();
  const onHangup = (): void => hangupController.abort(new SwitchboardError('SB_CALL_GONE', [call.id]));
  if (call.isGone) onHangup();
  else call.once('hangup', onHangup);

  const scope: Scope = {
    vars: {},
    env: process.env,
    call: {
      uuid: call.id,
      caller: call.data.callerNumber,
      caller_name: call.data.callerName,
      destination: call.data.destination,
      context: call.data.context,
      domain: call.data.domain ?? '',
      direction: call.data.direction,
    },
    steps: results,
  };
  scope.vars = { ...(render(plan.vars, scope) as Record<string, unknown>) };
  const vars = scope.vars as Record<string, unknown>;

  timeline({ kind: 'flow-start', detail: `${plan.name} (${plan.file}) from ${call.data.callerNumber || '?'} to ${call.data.destination || '?'}` });
  log.info({ from: call.data.callerNumber, to: call.data.destination }, 'flow started');

  // Mutated by runSection; a record so TypeScript does not narrow it across the awaits.
  const run: { ending: FlowResult['ending']; stepsRun: number; inErrorHandler: boolean } = { ending: 'completed', stepsRun: 0, inErrorHandler: false };

  const runSection = async (start: number | null, section: Section): Promise<void> => {
    let index = start;
    while (index !== null) {
      if (run.stepsRun >= plan.maxSteps) {
        const err = new SwitchboardError('SB_FLOW_MAX_STEPS', [plan.name, plan.maxSteps], { callId: call.id, flow: plan.name });
        log.error({ code: err.code }, err.message);
        timeline({ kind: 'error', detail: err.message });
        run.ending = 'max-steps';
        return;
      }
      const step = plan.steps[index] as PlanStep;
      run.stepsRun++;
      if (step.goto !== undefined) {
        timeline({ kind: 'step-start', step: step.id, name: 'goto', detail: `→ ${step.goto === null ? 'end' : (plan.steps[step.goto] as PlanStep).id}` });
        index = step.goto;
        continue;
      }
      const stepLog = log.child({ step: step.id });
      const t0 = performance.now();
      timeline({ kind: 'step-start', step: step.id, name: step.name });
      let result: StepResult;
      try {
        if (section !== 'on_hangup' && hangupController.signal.aborted) throw new SwitchboardError('SB_CALL_GONE', [call.id]);
        result = (await runStep(step, call, scope, vars, results, options, stepLog, section === 'on_hangup' ? new AbortController().signal : hangupController.signal, plan)) ?? {};
      } catch (err) {
        const gone = call.isGone || isSwitchboardError(err, 'SB_CALL_GONE') || (isSwitchboardError(err, 'SB_CALL_ABORTED') && hangupController.signal.aborted);
        const code: ErrorCode = err instanceof SwitchboardError ? err.code : 'SB_STEP_FAILED';
        const message = (err as Error).message;
        results[step.id] = { outcome: 'error', error: message, code };
        options.onStepDone?.(step.name, (performance.now() - t0) / 1000, gone ? 'hangup' : 'error');
        if (gone && section !== 'on_hangup') {
          timeline({ kind: 'hangup', step: step.id, detail: `caller hung up during ${step.name}` });
          run.ending = 'hangup';
          return;
        }
        stepLog.error({ code, err: message }, `step ${step.name} failed`);
        timeline({ kind: 'error', step: step.id, name: step.name, detail: `${code}: ${message}` });
        if (step.on.error !== undefined) {
          index = step.on.error;
          continue;
        }
        if (section === 'steps' && plan.entry.on_error !== null && !run.inErrorHandler) {
          run.inErrorHandler = true;
          run.ending = 'error';
          index = plan.entry.on_error;
          section = 'on_error';
          continue;
        }
        if (section !== 'on_hangup') {
          run.ending = 'error';
          return;
        }
        index = step.next;
        continue;
      }
      results[step.id] = result;
      const outcome = result.outcome ?? 'ok';
      options.onStepDone?.(step.name, (performance.now() - t0) / 1000, outcome);
      timeline({ kind: 'step-end', step: step.id, name: step.name, outcome, detail: summarise(result) });
      const branch = step.on[outcome];
      if (branch !== undefined) index = branch;
      else if (typeof result.goto === 'string') index = plan.steps.find((s) => s.named && s.id === result.goto)?.index ?? null;
      else if (step.plugin && isTerminal(step.plugin.plugin.meta, step.options as Record<string, unknown>)) index = null;
      else index = step.next;
      if (call.isGone && section !== 'on_hangup') {
        if (call.hangupInfo?.by !== 'switchboard') run.ending = 'hangup';
        return;
      }
    }
  };

  try {
    await runSection(plan.entry.steps, 'steps');
    if (!call.isGone) {
      await call.hangup(run.ending === 'error' ? 'NORMAL_TEMPORARY_FAILURE' : 'NORMAL_CLEARING').catch((err: Error) => log.warn({ err: err.message }, 'hangup at flow end failed'));
    }
    timeline({ kind: 'hangup', detail: call.hangupInfo?.cause ?? 'NORMAL_CLEARING' });
    if (plan.entry.on_hangup !== null) await runSection(plan.entry.on_hangup, 'on_hangup');
  } finally {
    call.off('hangup', onHangup);
    control.close(call.id);
  }
  timeline({ kind: 'flow-end', detail: `${run.ending} after ${run.stepsRun} steps` });
  log.info({ ending: run.ending, stepsRun: run.stepsRun, ms: Math.round(performance.now() - started) }, 'flow ended');
  return { ending: run.ending, steps: results, stepsRun: run.stepsRun };
}

async function runStep(step: PlanStep, call: Call, scope: Scope, vars: Record<string, unknown>, results: Record<string, StepResult>, options: RunOptions, log: Logger, signal: AbortSignal, plan: Plan): Promise<StepResult | void> {
  const loaded = step.plugin;
  if (!loaded) throw new SwitchboardError('SB_STEP_FAILED', [step.id, 'no plugin']);
  const rendered = render(step.options, scope) as Record<string, unknown>;
  if (!loaded.validate(rendered)) {
    const e = loaded.validate.errors?.[0];
    throw new SwitchboardError('SB_FLOW_BAD_OPTION', [`step "${step.id}": option ${e?.instancePath || ''} ${e?.message ?? 'is invalid'} after templates were filled in`], { callId: call.id, flow: plan.name, step: step.id });
  }
  if (loaded.plugin.meta.needsAnswer && call.state === 'ringing') await call.answer({ signal });
  const ctx: StepContext = {
    call,
    vars,
    steps: results,
    log,
    signal,
    config: options.config,
    flow: { name: plan.name, file: plan.file },
    step: { id: step.id, name: step.name },
    control: (options.control as CallControl).forCall(call.id),
    services: options.services ?? NO_SERVICES,
  };
  return loaded.plugin.create(ctx).run(rendered as never, signal);
}

const NO_SERVICES: StepServices = {
  media: undefined,
  nova: () => {
    throw new SwitchboardError('SB_STEP_FAILED', ['nova', 'no Nova Sonic client configured for this runner']);
  },
  tools: new Map(),
};

function summarise(result: StepResult): string | undefined {
  // One line: short scalar fields only (a transcript or a message belongs in the log).
  const fields = Object.entries(result).filter(([k, v]) => k !== 'outcome' && v !== undefined && typeof v !== 'object' && !(typeof v === 'string' && (v.includes('\n') || v.length > 40)));
  return fields.length > 0 ? fields.map(([k, v]) => `${k}=${String(v)}`).join(' ') : undefined;
}
