import type { TimelineEntry } from '../flow/runner.ts';

/** One timeline entry as a line of text, for `demo` and `simulate`. */
export function describeTimeline(e: TimelineEntry): string {
  switch (e.kind) {
    case 'flow-start':
      return `flow ${e.detail ?? ''}`;
    case 'step-start':
      return `▶ ${e.name}${e.step && !e.step.includes(':') ? ` (${e.step})` : ''}${e.detail ? ` ${e.detail}` : ''}`;
    case 'step-end':
      return `✓ ${e.name} → ${e.outcome}${e.detail ? `  ${e.detail}` : ''}`;
    case 'error':
      return `✗ ${e.name ?? ''} ${e.detail ?? ''}`;
    case 'hangup':
      return `hangup ${e.detail ?? ''}`;
    case 'flow-end':
      return `flow ended: ${e.detail ?? ''}`;
  }
}
