// The public face of core/esl. Nothing outside this folder imports modesl or connection.ts.
export { EslClient, type EslClientOptions, type OriginateResult } from './client.ts';
export { EslServer, type EslServerOptions } from './server.ts';
export { Call, type ChannelData, type CallState, type HangupInfo, type AppResult, type BridgeResult, type AudioStreamOptions, type CommandOptions, type WaitOptions } from './call.ts';
export { EslEvent, type EventHeaders } from './event.ts';
export { dialString, endpointString, originateArgs, parseEndpoint, type Endpoint, type ChannelVars, type OriginateRequest, type OriginateApp } from './dial-string.ts';
export * as escape from './escape.ts';
export { ConferenceApi, assertRoomName, assertMemberId, parseJsonList, type ConferenceRoom, type ConferenceMember, type MemberAction } from './conference.ts';
