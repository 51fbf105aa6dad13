/** Maps a FreeSWITCH hangup/originate cause to the outcome names flows branch on. */
export function outcomeOfCause(cause: string): 'busy' | 'no_answer' | 'failed' {
  switch (cause) {
    case 'USER_BUSY':
    case 'CALL_REJECTED':
      return 'busy';
    case 'NO_ANSWER':
    case 'NO_USER_RESPONSE':
    case 'ORIGINATOR_CANCEL':
    case 'ALLOTTED_TIMEOUT':
    case 'RECOVERY_ON_TIMER_EXPIRE':
      return 'no_answer';
    default:
      return 'failed';
  }
}

export const DIAL_OUTCOMES = ['busy', 'no_answer', 'failed'] as const;
