/**
 * SigV4 signing of event-stream messages, synchronous on node:crypto: each message's signature
 * is an HMAC over the previous one, so the chain is seeded by the request's own signature.
 *
 *   string to sign = "AWS4-HMAC-SHA256-PAYLOAD" \n <date YYYYMMDDTHHMMSSZ> \n <scope> \n
 *                    <previous signature> \n hex(sha256(headers)) \n hex(sha256(payload))
 *   scope          = <YYYYMMDD>/<region>/<service>/aws4_request
 *   key            = HMAC chain "AWS4"+secret → date → region → service → "aws4_request"
 *
 * Region and service are read from the request's Authorization header (its Credential scope),
 * so events are signed for exactly what the SDK signed the request for.
 */
import { createHash, createHmac } from 'node:crypto';

export interface SigningScope {
  region: string;
  service: string;
  /** The request's signature: the chain's seed. */
  signature: string;
}

/** Region, service and signature of a SigV4 Authorization header, or undefined if it is not one. */
export function scopeOf(authorization: string | undefined): SigningScope | undefined {
  const m = /^AWS4-HMAC-SHA256 Credential=[^/,]+\/\d{8}\/([^/,]+)\/([^/,]+)\/aws4_request,.* Signature=([0-9a-f]{64})$/.exec(authorization ?? '');
  return m ? { region: m[1] as string, service: m[2] as string, signature: m[3] as string } : undefined;
}

const sha256Hex = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

export class EventChainSigner {
  private prior: string;
  private keyDay = '';
  private key: Buffer = Buffer.alloc(0);
  private second = -1;
  private longDate = '';

  constructor(
    private readonly secretAccessKey: string,
    private readonly scope: SigningScope,
  ) {
    this.prior = scope.signature;
  }

  /** The signature (hex) of a message with these header bytes and payload, dated `ms`; the next one chains on it. */
  sign(ms: number, headers: Uint8Array, payload: Uint8Array): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.second) {
      this.second = second;
      this.longDate = new Date(second * 1000).toISOString().replace(/[-:]|\.\d{3}/g, '');
    }
    const day = this.longDate.slice(0, 8);
    if (day !== this.keyDay) {
      this.keyDay = day;
      const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
      this.key = hmac(hmac(hmac(hmac(`AWS4${this.secretAccessKey}`, day), this.scope.region), this.scope.service), 'aws4_request');
    }
    const stringToSign = `AWS4-HMAC-SHA256-PAYLOAD\n${this.longDate}\n${day}/${this.scope.region}/${this.scope.service}/aws4_request\n${this.prior}\n${sha256Hex(headers)}\n${sha256Hex(payload)}`;
    this.prior = createHmac('sha256', this.key).update(stringToSign).digest('hex');
    return this.prior;
  }
}
