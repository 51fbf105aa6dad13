export { FreeSwitchSim, type FreeSwitchSimOptions, type InboundCallOptions, type SimEventRecord, type SimEvents } from './server.ts';
export {
  SimChannel,
  type AnswerState,
  type AudioStreamState,
  type CallStateName,
  type ChannelStateName,
  type ExecutedApp,
  type ExecVia,
  type PlayedFile,
  type TransferRecord,
} from './channel.ts';
export type { SimCommand, ConnectionMode } from './connection.ts';
export type { AudioStreamAction, OriginateHandler, OriginatePlan, OriginateRequest } from './host.ts';
export { fsUrlEncode, type EventFormat } from './wire.ts';
export { parseDialString, parseOriginateArgs, separateString, type DialLeg, type DialString } from './originate.ts';
