/** One ESL message: its top-level header block and, when it had a Content-Length, the body. */
export interface Frame {
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

export const ContentType = {
  authRequest: 'auth/request',
  commandReply: 'command/reply',
  apiResponse: 'api/response',
  eventJson: 'text/event-json',
  eventPlain: 'text/event-plain',
  eventXml: 'text/event-xml',
  disconnectNotice: 'text/disconnect-notice',
  rudeRejection: 'text/rude-rejection',
  logData: 'log/data',
} as const;
