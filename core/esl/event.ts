/** Header values of a FreeSWITCH event: strings, or arrays where a header repeats (event-json). */
export type EventHeaders = Record<string, string | string[] | undefined>;

/**
 * One FreeSWITCH event, decoded from event-json, event-plain or event-xml.
 * Holds the parsed header record as is (no copy), so parsing stays the only cost per event.
 */
export class EslEvent {
  readonly headers: EventHeaders;
  readonly body: string | undefined;

  constructor(headers: EventHeaders, body?: string) {
    this.headers = headers;
    this.body = body;
  }

  get name(): string {
    return this.get('Event-Name') ?? '';
  }

  get subclass(): string | undefined {
    return this.get('Event-Subclass');
  }

  /** The channel this event belongs to, if any. */
  get uuid(): string | undefined {
    return this.get('Unique-ID');
  }

  /** The first value of a header. */
  get(name: string): string | undefined {
    const v = this.headers[name];
    return Array.isArray(v) ? v[0] : v;
  }

  /** A channel variable (`variable_<name>`). */
  variable(name: string): string | undefined {
    return this.get(`variable_${name}`);
  }
}
