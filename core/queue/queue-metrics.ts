import { Counter, Gauge, type Registry } from 'prom-client';
import type { Metrics } from '../metrics.ts';

/**
 * The queue's two contract metrics (deploy/README.md): switchboard_originate_total{cause} and
 * switchboard_queue_depth{queue}. Registered on the service's registry once, whoever asks first;
 * depth is read from Redis at scrape time from any open source.
 */
export interface QueueMetrics {
  originates: Counter<'cause'>;
  /** Originates sent, by pacing gateway ('' when only the global limits apply): rate() is the CPS FreeSWITCH sees. */
  dials: Counter<'gateway'>;
  addDepthSource(queue: string, read: () => Promise<number>): () => void;
}

const byRegistry = new WeakMap<Registry, QueueMetrics>();

export function queueMetrics(metrics: Metrics): QueueMetrics {
  const registry = metrics.registry;
  const known = byRegistry.get(registry);
  if (known) return known;
  const sources = new Map<string, Set<() => Promise<number>>>();
  const originates = new Counter({
    name: 'switchboard_originate_total',
    help: 'Outbound call attempts by FreeSWITCH hangup cause (SUCCESS when answered).',
    labelNames: ['cause'],
    registers: [registry],
  });
  const dials = new Counter({
    name: 'switchboard_dials_total',
    help: 'Outbound originates sent to FreeSWITCH, by gateway (empty: no per-gateway limit); rate() is calls started per second.',
    labelNames: ['gateway'],
    registers: [registry],
  });
  new Gauge({
    name: 'switchboard_queue_depth',
    help: 'Jobs waiting in a BullMQ queue (waiting, delayed, prioritized), read from Redis: every instance reports the same value.',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [queue, reads] of sources) {
        for (const read of reads) {
          try {
            this.set({ queue }, await read());
            break;
          } catch {
            // Redis away: no sample rather than a wrong one; try the next source
          }
        }
      }
    },
  });
  const made: QueueMetrics = {
    originates,
    dials,
    addDepthSource(queue, read) {
      let set = sources.get(queue);
      if (!set) sources.set(queue, (set = new Set()));
      set.add(read);
      return () => set.delete(read);
    },
  };
  byRegistry.set(registry, made);
  return made;
}
