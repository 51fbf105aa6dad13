import { defineStep } from '../../core/plugins/types.ts';
import { conditionHolds, conditionSchema, type Condition } from './conditions.ts';

export interface BranchOptions {
  cases: Array<{ if: Condition; goto: string }>;
  else?: string;
}

export default defineStep<BranchOptions>({
  meta: {
    name: 'branch',
    version: '1.0.0',
    engine: '^0.1',
    description: 'Jumps to the first case whose condition holds (a value test, or a time window), else to `else`, else goes on.',
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['cases'],
      properties: {
        cases: {
          type: 'array',
          minItems: 1,
          items: { type: 'object', additionalProperties: false, required: ['if', 'goto'], properties: { if: conditionSchema, goto: { type: 'string' } } },
        },
        else: { type: 'string', description: 'Step id when no case holds (default: the next step).' },
      },
    },
    analyse: (o) => ({ jumps: [...((o.cases as BranchOptions['cases'] | undefined) ?? []).map((c) => c.goto), ...(typeof o.else === 'string' ? [o.else] : [])] }),
  },
  create: () => ({
    async run(o) {
      const now = new Date();
      const hit = o.cases.findIndex((c) => conditionHolds(c.if, now));
      if (hit >= 0) return { outcome: 'ok', goto: o.cases[hit]?.goto, case: hit };
      return o.else !== undefined ? { outcome: 'ok', goto: o.else, case: 'else' } : { outcome: 'ok', case: 'none' };
    },
  }),
});
