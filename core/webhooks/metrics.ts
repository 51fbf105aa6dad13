import { Counter, type Registry } from 'prom-client';
import type { Metrics } from '../metrics.ts';

export interface WebhookMetrics {
  delivered: Counter<'type'>;
  /** reason: `rejected` (a 4xx or redirect, not retried), `exhausted` (every attempt failed), `enqueue` (could not be queued). */
  failed: Counter<'type' | 'reason'>;
}

const byRegistry = new WeakMap<Registry, WebhookMetrics>();

/** Registered on the service's registry once, whoever (producer or worker) asks first. */
export function webhookMetrics(metrics: Metrics): WebhookMetrics {
  const registry = metrics.registry;
  const known = byRegistry.get(registry);
  if (known) return known;
  const made: WebhookMetrics = {
    delivered: new Counter({ name: 'switchboard_webhooks_delivered_total', help: 'Webhook events a receiver accepted (2xx), by event type.', labelNames: ['type'], registers: [registry] }),
    failed: new Counter({ name: 'switchboard_webhooks_failed_total', help: 'Webhook events given up on, by event type and reason (rejected, exhausted, enqueue).', labelNames: ['type', 'reason'], registers: [registry] }),
  };
  byRegistry.set(registry, made);
  return made;
}
