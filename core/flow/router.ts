import type { FlowMatch, Plan } from './plan.ts';

export interface CallAddress {
  destination: string;
  context: string;
  domain: string | undefined;
  direction: 'inbound' | 'outbound';
}

/** How specific a destination pattern is: exact beats prefix (longer first) beats /regex/ beats "any". */
function destinationScore(pattern: string, destination: string): number {
  if (pattern.length > 2 && pattern.startsWith('/') && pattern.endsWith('/')) {
    return new RegExp(pattern.slice(1, -1)).test(destination) ? 1_000 : -1;
  }
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return destination.startsWith(prefix) ? 10_000 + prefix.length : -1;
  }
  return pattern === destination ? 1_000_000 : -1;
}

/** A score for how well a flow matches a call, or -1. */
export function matchScore(match: FlowMatch, call: CallAddress): number {
  if (match.direction !== 'any' && match.direction !== call.direction) return -1;
  if (match.context.length > 0 && !match.context.includes(call.context)) return -1;
  if (match.domain.length > 0 && (call.domain === undefined || !match.domain.includes(call.domain))) return -1;
  let score = (match.context.length > 0 ? 10 : 0) + (match.domain.length > 0 ? 10 : 0);
  if (match.destination.length > 0) {
    const best = Math.max(...match.destination.map((p) => destinationScore(p, call.destination)));
    if (best < 0) return -1;
    score += best;
  } else if (match.context.length === 0 && match.domain.length === 0) {
    return -1; // a flow without any match criteria is only reachable by name (or as the default)
  }
  return score;
}

/** Picks the flow for an inbound call: the most specific match, else the default flow. */
export function route(plans: Iterable<Plan>, call: CallAddress): Plan | undefined {
  let best: Plan | undefined;
  let bestScore = -1;
  let fallback: Plan | undefined;
  for (const plan of plans) {
    if (plan.trigger !== 'inbound') continue;
    if (plan.isDefault) fallback = plan;
    const score = matchScore(plan.match, call);
    if (score > bestScore) {
      best = plan;
      bestScore = score;
    }
  }
  return best ?? fallback;
}

/** Two flows whose match criteria could claim the same call the same way (a load-time error). */
export function sameMatch(a: FlowMatch, b: FlowMatch): string | undefined {
  const overlap = (x: readonly string[], y: readonly string[]): boolean => x.length === 0 || y.length === 0 || x.some((v) => y.includes(v));
  if (a.direction !== 'any' && b.direction !== 'any' && a.direction !== b.direction) return undefined;
  if (a.context.length !== b.context.length && (a.context.length === 0 || b.context.length === 0)) return undefined;
  if (a.domain.length !== b.domain.length && (a.domain.length === 0 || b.domain.length === 0)) return undefined;
  if (!overlap(a.context, b.context) || !overlap(a.domain, b.domain)) return undefined;
  return a.destination.find((d) => b.destination.includes(d));
}
