// The public face of core/nova: the Bedrock client factory, the model table and NovaSession.
export { NOVA_MODELS, NOVA_SONIC_V1, NOVA_2_SONIC, voiceProblem, type NovaModelInfo } from './models.ts';
export { createNovaClient, type NovaClientOptions } from './client.ts';
export {
  NovaSession,
  type NovaSessionOptions, type NovaSessionEvents, type NovaSessionState, type NovaStats, type NovaText, type NovaToolUse,
  type NovaTurnEnd, type NovaUsage, type NovaCloseReason, type NovaRole,
} from './session.ts';
export type { NovaTool, HistoryRole } from './input-events.ts';
export { codeForSdkError } from './sdk-errors.ts';
