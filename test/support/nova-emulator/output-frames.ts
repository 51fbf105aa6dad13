/**
 * Response framing: every output event is an unsigned event-stream message with
 * `:message-type event`, `:event-type chunk`, `:content-type application/json` and the payload
 * `{"bytes":"<base64 of {"event":{…}}>"}`; exceptions carry `:message-type exception` and
 * `:exception-type <member name>` with a JSON `{"message":…}` payload.
 */
import { encodeHeaders, encodeWithHeaderBlock } from './event-stream.ts';
import type { StreamExceptionType } from './scripts.ts';

const CHUNK_HEADERS = encodeHeaders({
  ':event-type': { type: 'string', value: 'chunk' },
  ':content-type': { type: 'string', value: 'application/json' },
  ':message-type': { type: 'string', value: 'event' },
});

const exceptionHeaders = new Map<string, Buffer>();

export function encodeOutputEvent(name: string, body: Record<string, unknown>): Buffer {
  const json = JSON.stringify({ event: { [name]: body } });
  return encodeWithHeaderBlock(CHUNK_HEADERS, `{"bytes":"${Buffer.from(json, 'utf8').toString('base64')}"}`);
}

/**
 * audioOutput events of one content differ only in their audio: the JSON around it is built once
 * and the audio's base64 is spliced in, instead of JSON.stringify scanning every chunk.
 */
export class AudioFramer {
  private readonly head: string;
  constructor(ids: Record<string, unknown>) {
    this.head = `{"event":{"audioOutput":${JSON.stringify(ids).slice(0, -1)},"content":"`;
  }

  frame(pcm: Buffer): Buffer {
    const json = `${this.head}${pcm.toString('base64')}"}}}`;
    return encodeWithHeaderBlock(CHUNK_HEADERS, `{"bytes":"${Buffer.from(json, 'utf8').toString('base64')}"}`);
  }
}

export function encodeException(type: StreamExceptionType, body: Record<string, unknown>): Buffer {
  let headers = exceptionHeaders.get(type);
  if (!headers) {
    headers = encodeHeaders({
      ':exception-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    });
    exceptionHeaders.set(type, headers);
  }
  return encodeWithHeaderBlock(headers, JSON.stringify(body));
}

export const DEFAULT_EXCEPTION_MESSAGES: Readonly<Record<StreamExceptionType, string>> = {
  validationException: 'Invalid input request, please fix your input and try again.',
  throttlingException: 'Too many requests, please wait before trying again.',
  modelTimeoutException: 'Model has timed out in processing the request. Try your request again.',
  modelStreamErrorException: 'The model stream encountered an error. Try your request again.',
  internalServerException: 'The server encountered an internal error. Try your request again.',
  serviceUnavailableException: 'The service is temporarily unavailable. Try your request again.',
};
