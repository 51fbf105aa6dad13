/** switch_call_cause_t names and their Q.850 values (variable_hangup_cause_q850). */
const CAUSES: ReadonlyArray<[string, number]> = [
  ['NONE', 0], ['UNALLOCATED_NUMBER', 1], ['NO_ROUTE_TRANSIT_NET', 2], ['NO_ROUTE_DESTINATION', 3],
  ['CHANNEL_UNACCEPTABLE', 6], ['CALL_AWARDED_DELIVERED', 7], ['NORMAL_CLEARING', 16], ['USER_BUSY', 17],
  ['NO_USER_RESPONSE', 18], ['NO_ANSWER', 19], ['SUBSCRIBER_ABSENT', 20], ['CALL_REJECTED', 21],
  ['NUMBER_CHANGED', 22], ['REDIRECTION_TO_NEW_DESTINATION', 23], ['EXCHANGE_ROUTING_ERROR', 25],
  ['DESTINATION_OUT_OF_ORDER', 27], ['INVALID_NUMBER_FORMAT', 28], ['FACILITY_REJECTED', 29],
  ['RESPONSE_TO_STATUS_ENQUIRY', 30], ['NORMAL_UNSPECIFIED', 31], ['NORMAL_CIRCUIT_CONGESTION', 34],
  ['NETWORK_OUT_OF_ORDER', 38], ['NORMAL_TEMPORARY_FAILURE', 41], ['SWITCH_CONGESTION', 42],
  ['ACCESS_INFO_DISCARDED', 43], ['REQUESTED_CHAN_UNAVAIL', 44], ['PRE_EMPTED', 45],
  ['FACILITY_NOT_SUBSCRIBED', 50], ['OUTGOING_CALL_BARRED', 52], ['INCOMING_CALL_BARRED', 54],
  ['BEARERCAPABILITY_NOTAUTH', 57], ['BEARERCAPABILITY_NOTAVAIL', 58], ['SERVICE_UNAVAILABLE', 63],
  ['BEARERCAPABILITY_NOTIMPL', 65], ['CHAN_NOT_IMPLEMENTED', 66], ['FACILITY_NOT_IMPLEMENTED', 69],
  ['SERVICE_NOT_IMPLEMENTED', 79], ['INVALID_CALL_REFERENCE', 81], ['INCOMPATIBLE_DESTINATION', 88],
  ['INVALID_MSG_UNSPECIFIED', 95], ['MANDATORY_IE_MISSING', 96], ['MESSAGE_TYPE_NONEXIST', 97],
  ['WRONG_MESSAGE', 98], ['IE_NONEXIST', 99], ['INVALID_IE_CONTENTS', 100], ['WRONG_CALL_STATE', 101],
  ['RECOVERY_ON_TIMER_EXPIRE', 102], ['MANDATORY_IE_LENGTH_ERROR', 103], ['PROTOCOL_ERROR', 111],
  ['INTERWORKING', 127], ['SUCCESS', 142], ['ORIGINATOR_CANCEL', 487], ['CRASH', 500], ['SYSTEM_SHUTDOWN', 501],
  ['LOSE_RACE', 502], ['MANAGER_REQUEST', 503], ['BLIND_TRANSFER', 600], ['ATTENDED_TRANSFER', 601],
  ['ALLOTTED_TIMEOUT', 602], ['USER_CHALLENGE', 603], ['MEDIA_TIMEOUT', 604], ['PICKED_OFF', 605],
  ['USER_NOT_REGISTERED', 606], ['PROGRESS_TIMEOUT', 607], ['INVALID_GATEWAY', 608], ['GATEWAY_DOWN', 609],
  ['INVALID_URL', 610], ['INVALID_PROFILE', 611], ['NO_PICKUP', 612], ['SRTP_READ_ERROR', 613],
];

const BY_NAME = new Map(CAUSES.map(([n, q]) => [n, q]));
const BY_NUMBER = new Map(CAUSES.map(([n, q]) => [q, n]));

/** switch_channel_str2cause: a name (any case) or a number; undefined when unknown. */
export function parseCause(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const t = text.trim();
  if (/^\d+$/.test(t)) return BY_NUMBER.get(Number(t));
  const upper = t.toUpperCase();
  return BY_NAME.has(upper) ? upper : undefined;
}

export function causeQ850(cause: string): number {
  return BY_NAME.get(cause) ?? 0;
}

/** DIALSTATUS as switch_ivr_originate reports it to the bridging leg. */
export function dialStatus(cause: string): string {
  switch (cause) {
    case 'SUCCESS':
      return 'SUCCESS';
    case 'USER_BUSY':
      return 'BUSY';
    case 'NO_ANSWER':
    case 'NO_USER_RESPONSE':
    case 'ALLOTTED_TIMEOUT':
      return 'NOANSWER';
    case 'ORIGINATOR_CANCEL':
      return 'CANCEL';
    case 'CALL_REJECTED':
      return 'DONTCALL';
    default:
      return cause;
  }
}
