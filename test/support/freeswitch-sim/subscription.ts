import { canonicalEventName, EVENT_NAMES, MYEVENTS_NAMES, type SimEvent } from './event.ts';
import type { EventFormat } from './wire.ts';

/**
 * What one ESL listener receives: mod_event_socket's event_list / event_hash / filters /
 * LFLAG_MYEVENTS, with the reply texts of the `event`, `nixevent`, `noevents` and `filter` commands.
 */
export class Subscription {
  format: EventFormat = 'plain';
  /** LFLAG_EVENTS */
  enabled = false;
  private all = false;
  private readonly names = new Set<string>();
  private readonly customSubclasses = new Set<string>();
  private filters: Array<[string, string]> = [];
  /** LFLAG_MYEVENTS: only events whose Unique-ID is this uuid. */
  myeventsUuid: string | undefined;
  myevents = false;

  /** `event [plain|json|xml] <names…> [CUSTOM <subclass…>]` → Reply-Text */
  subscribe(args: string): string {
    const tokens = args.split(' ');
    let keyCount = 0;
    let custom = false;
    tokens.forEach((token, i) => {
      if (token === '') return;
      if (i === 0) {
        const f = token.toLowerCase();
        if (f === 'plain' || f === 'json' || f === 'xml') {
          this.format = f;
          return;
        }
      }
      if (custom) {
        this.customSubclasses.add(token);
        return;
      }
      const name = canonicalEventName(token);
      if (!name) return;
      keyCount++;
      if (name === 'ALL') this.all = true;
      else this.names.add(name);
      if (name === 'CUSTOM') custom = true;
    });
    if (keyCount === 0) return '-ERR no keywords supplied';
    this.enabled = true;
    return `+OK event listener enabled ${this.format}`;
  }

  /** `nixevent <names…>` → Reply-Text */
  unsubscribe(args: string): string {
    let keyCount = 0;
    let custom = false;
    for (const token of args.split(' ')) {
      if (token === '') continue;
      if (custom) {
        this.customSubclasses.delete(token);
        continue;
      }
      const name = canonicalEventName(token);
      if (!name) continue;
      keyCount++;
      if (name === 'CUSTOM') custom = true;
      else if (name === 'ALL') {
        this.all = false;
        this.names.clear();
      } else {
        if (this.all) {
          // ALL expands into every single type before one is taken out.
          this.all = false;
          for (const n of allTypeNames()) this.names.add(n);
        }
        this.names.delete(name);
      }
    }
    if (keyCount === 0) return '-ERR no keywords supplied';
    this.enabled = true;
    return '+OK events nixed';
  }

  /** `noevents` → Reply-Text */
  clear(): string {
    if (!this.enabled) return '-ERR not listening for events';
    this.enabled = false;
    this.all = false;
    this.names.clear();
    this.customSubclasses.clear();
    return '+OK no longer listening for events';
  }

  /** `filter <header> <value>`, `filter add …`, `filter delete <header> [<value>]`, `filter delete all` */
  filter(args: string): string {
    let rest = args.replace(/^ +/, '');
    const sp = rest.indexOf(' ');
    let header = sp < 0 ? rest : rest.slice(0, sp);
    let value: string | undefined = sp < 0 ? undefined : rest.slice(sp + 1);
    if (header.toLowerCase() === 'delete' && value !== undefined) {
      rest = value;
      const sp2 = rest.indexOf(' ');
      header = sp2 < 0 ? rest : rest.slice(0, sp2);
      value = sp2 < 0 ? undefined : rest.slice(sp2 + 1);
      if (header.toLowerCase() === 'all') this.filters = [];
      else this.filters = this.filters.filter(([h, v]) => !(h.toLowerCase() === header.toLowerCase() && (value === undefined || v === value)));
      return `+OK filter deleted. [${header}][${value ?? ''}]`;
    }
    if (value === undefined) return '-ERR invalid syntax';
    if (header.toLowerCase() === 'add') {
      rest = value;
      const sp2 = rest.indexOf(' ');
      header = sp2 < 0 ? rest : rest.slice(0, sp2);
      value = sp2 < 0 ? '' : rest.slice(sp2 + 1);
    }
    this.filters.push([header, value]);
    return `+OK filter added. [${header}]=[${value}]`;
  }

  /** `myevents`: the fixed event list of mod_event_socket plus the session filter. */
  enableMyevents(uuid: string, formatHint: string): void {
    for (const n of MYEVENTS_NAMES) this.names.add(n);
    this.myevents = true;
    this.myeventsUuid = uuid;
    this.enabled = true;
    if (/xml/i.test(formatHint)) this.format = 'xml';
    if (/json/i.test(formatHint)) this.format = 'json';
  }

  /** The type checks of `wants` alone (no filters, no myevents): cheap, before an event is built. */
  mightWant(name: string, subclass: string | undefined): boolean {
    if (!this.enabled) return false;
    if (this.all) return true;
    if (!this.names.has(name)) return false;
    return name !== 'CUSTOM' || !subclass || this.customSubclasses.has(subclass);
  }

  /** event_handler() of mod_event_socket: type list, custom subclasses, filters, myevents. */
  wants(ev: SimEvent): boolean {
    if (!this.enabled) return false;
    let send = false;
    if (this.all) send = true;
    else if (this.names.has(ev.name)) {
      const sub = ev.subclass;
      send = ev.name !== 'CUSTOM' || !sub || this.customSubclasses.has(sub);
    }
    if (send && this.filters.length > 0) send = this.passesFilters(ev);
    if (send && this.myevents) {
      const uuid = ev.get('Unique-ID');
      if (!uuid || (this.myeventsUuid !== undefined && uuid !== this.myeventsUuid)) send = false;
    }
    return send;
  }

  private passesFilters(ev: SimEvent): boolean {
    let send = false;
    for (const [name, raw] of this.filters) {
      const hval = ev.get(name);
      if (hval === undefined) continue;
      let pos = true;
      let i = 0;
      for (; i < raw.length; i++) {
        const c = raw[i];
        if (c === '+') pos = true;
        else if (c === '-') pos = false;
        else if (c !== ' ') break;
      }
      const compTo = raw.slice(i);
      if (send && pos) continue;
      let cmp: boolean;
      if (raw.startsWith('/')) {
        const m = /^\/(.*)\/([a-z]*)$/s.exec(compTo);
        try {
          cmp = new RegExp(m ? (m[1] as string) : compTo.slice(1)).test(hval);
        } catch {
          cmp = false;
        }
      } else {
        cmp = hval.toLowerCase() === compTo.toLowerCase();
      }
      if (cmp) {
        if (pos) send = true;
        else return false;
      }
    }
    return send;
  }
}

function allTypeNames(): string[] {
  return EVENT_NAMES.filter((n) => n !== 'ALL');
}
