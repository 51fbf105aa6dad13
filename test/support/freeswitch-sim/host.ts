import type { SimChannel } from './channel.ts';
import type { SimEvent } from './event.ts';

/** Where an event says it was fired from (Event-Calling-File / -Function / -Line-Number). */
export interface Calling {
  file: string;
  func: string;
  line: number;
}

/**
 * What the far end does when a leg is dialled (originate or bridge): answer after a while (and
 * optionally hang up after talking `hangupAfterMs`), or fail with a hangup cause. Simulated ms.
 * An answer after a delay rings first (180: CHANNEL_PROGRESS), with `earlyMedia` then also sends
 * 183 (CHANNEL_PROGRESS_MEDIA); a failure rings first only with `ringing` (NO_ANSWER after a ring).
 */
export type OriginatePlan = { answerAfterMs?: number; hangupAfterMs?: number; earlyMedia?: boolean } | { fail: string; afterMs?: number; ringing?: boolean };

export interface OriginateRequest {
  /** Unique-ID the new leg will have (origination_uuid when given). */
  uuid: string;
  /** Every variable of the leg: `{…}` block, `[…]` block. */
  vars: Record<string, string>;
  /** The endpoint as dialled, e.g. `sofia/gateway/trunk1/+15551234567`. */
  endpoint: string;
  /** What runs once answered: `&park()`, `&socket(…)`, an extension, or `bridge` for a bridge leg. */
  app: string;
}

export type OriginateHandler = (req: OriginateRequest) => OriginatePlan | void | Promise<OriginatePlan | void>;

export interface SocketTarget {
  host: string;
  port: number;
  async: boolean;
  full: boolean;
}

/** The outbound ESL connection of one channel, as the socket application sees it. */
export interface OutboundLink {
  /** Resolves true once the service has sent `connect`, false if the socket went away first. */
  readonly connected: Promise<boolean>;
  /** Aborted when the socket closes (either side). */
  readonly closed: AbortSignal;
  readonly resume: boolean;
}

export interface AudioStreamAction {
  uuid: string;
  action: 'start' | 'stop' | 'pause' | 'resume' | 'send_text';
  url?: string;
  mix?: string;
  rate?: number;
  metadata?: string;
  text?: string;
}

export interface ResolvedOptions {
  password: string;
  timeScale: number;
  defaultPlaybackMs: number;
  hostname: string;
  /** Gap uuid_broadcast leaves between two queued files, unscaled (measured ≈180–200 ms). */
  broadcastGapMs: number;
}

/** What channels and applications need from the simulator. */
export interface SimHost {
  readonly options: ResolvedOptions;
  readonly channels: Map<string, SimChannel>;
  newEvent(name: string, calling: Calling, subclass?: string): SimEvent;
  fire(ev: SimEvent): void;
  /** False when no listener could take such an event (it is then not built; its sequence number is used up). */
  mightDeliver(name: string, uuid: string | undefined, subclass?: string): boolean;
  /** Simulated duration → real milliseconds (× timeScale). */
  scaled(ms: number): number;
  /** Waits real `ms`; resolves true when the time ran out, false when a signal aborted first. */
  wait(ms: number, ...signals: Array<AbortSignal | undefined>): Promise<boolean>;
  uuid(): string;
  /** Wall clock in ms with sub-ms precision. */
  now(): number;
  nextSessionId(): number;
  registerChannel(ch: SimChannel): void;
  unregisterChannel(ch: SimChannel): void;
  connectSocket(ch: SimChannel, target: SocketTarget): Promise<OutboundLink | undefined>;
  /** Dials one bridge leg; resolves with the answered leg or the failure cause. */
  dialLeg(aLeg: SimChannel, dial: string, signal: AbortSignal): Promise<{ leg: SimChannel } | { cause: string }>;
  audioStream(action: AudioStreamAction): void;
}
