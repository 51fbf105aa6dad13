import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics. Names are a contract with deploy/ (Grafana dashboard, alerts): change
 * them only together.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly callsTotal = new Counter({ name: 'switchboard_calls_total', help: 'Calls by state reached (started, completed, hangup, error).', labelNames: ['state'], registers: [this.registry] });
  readonly callsActive = new Gauge({ name: 'switchboard_calls_active', help: 'Calls in progress on this instance.', registers: [this.registry] });
  readonly eslReconnects = new Counter({ name: 'switchboard_esl_reconnects_total', help: 'Times the inbound event socket was re-established.', registers: [this.registry] });
  readonly eslConnected = new Gauge({ name: 'switchboard_esl_connected', help: '1 when the inbound event socket is connected.', registers: [this.registry] });
  readonly stepDuration = new Histogram({ name: 'switchboard_step_duration_seconds', help: 'Flow step durations.', labelNames: ['step', 'outcome'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300], registers: [this.registry] });
  readonly callSetup = new Histogram({ name: 'switchboard_call_setup_seconds', help: 'Switchboard\'s own time from the answered socket handshake to the flow\'s first command.', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1], registers: [this.registry] });
  readonly novaSessions = new Gauge({ name: 'switchboard_nova_sessions_active', help: 'Nova Sonic conversations in progress.', registers: [this.registry] });
  readonly flowReloads = new Counter({ name: 'switchboard_flow_reloads_total', help: 'Flow reloads by result (ok, rejected).', labelNames: ['result'], registers: [this.registry] });

  constructor(options: { defaults?: boolean } = {}) {
    if (options.defaults !== false) collectDefaultMetrics({ register: this.registry, prefix: 'switchboard_' });
  }
}
