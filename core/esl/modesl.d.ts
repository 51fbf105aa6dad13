// modesl 1.2.1 ships no types. Only the parts core/esl/connection.ts builds on are declared.
declare module 'modesl' {
  import type { Socket } from 'node:net';

  class Connection {
    constructor(host: string, port: number, password: string);
    constructor(socket: Socket);
    socket: Socket | null;
    channelData: unknown;
    connecting: boolean;
    authed: boolean;
    _inbound: boolean;
    emit(event: string, ...args: unknown[]): boolean;
    on(event: string, listener: (...args: unknown[]) => void): this;
    once(event: string, listener: (...args: unknown[]) => void): this;
    removeAllListeners(event?: string): this;
    listeners(event: string): Array<(...args: unknown[]) => void>;
    // Methods core/esl/connection.ts replaces; their modesl signatures are callback-style.
    api(...args: never[]): unknown;
    bgapi(...args: never[]): unknown;
    disconnect(...args: never[]): unknown;
    _onConnect(): void;
    _onError(err: Error): void;
    sendRecv(...args: never[]): void;
    subscribe(...args: never[]): void;
    send(...args: never[]): void;
  }

  class Server {
    constructor(opts: { port?: number; host?: string; server?: import('node:net').Server; myevents?: boolean }, ready?: () => void);
    on(event: string, listener: (...args: unknown[]) => void): this;
    close(cb?: () => void): void;
  }

  const modesl: { Connection: typeof Connection; Server: typeof Server };
  export default modesl;
}
