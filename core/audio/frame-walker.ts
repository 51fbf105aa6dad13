const NOTHING = Buffer.alloc(0);

/**
 * Walks a file made of back-to-back units (Ogg pages, MP3 frames) as its bytes go by, one read
 * block at a time, so a file is measured in the same pass that hashes it: each unit's header
 * says how long the unit is, and only headers are looked at. A header that straddles two blocks
 * is carried over (copied: the blocks are reused).
 */
export abstract class FrameWalker<T> {
  /** Why the bytes are not what this walker reads; set once, the walk stops there. */
  protected problem: string | undefined;
  /** Offset in the file of the next unit. */
  private at = 0;
  /** Bytes pushed so far. */
  private seen = 0;
  private carry: Buffer = NOTHING;

  push(block: Buffer): void {
    const from = this.seen - this.carry.length;
    this.seen += block.length;
    if (this.problem !== undefined) return;
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, block]) : block;
    let i = this.at - from;
    while (i < buf.length && this.problem === undefined) {
      const size = this.unit(buf, i, this.at);
      if (size === 0) break;
      i += size;
      this.at += size;
    }
    this.carry = i < buf.length && this.problem === undefined ? Buffer.from(buf.subarray(i)) : NOTHING;
  }

  /** What the walk found, once the whole file was pushed. */
  abstract result(): T;

  /**
   * The unit starting at buf[i] (at `offset` in the file): its size in bytes, having recorded
   * what it says; 0 when more bytes are needed to tell; or `problem` set.
   */
  protected abstract unit(buf: Buffer, i: number, offset: number): number;

  /** Whether the last unit ended exactly where the file does (not cut inside a unit). */
  protected get whole(): boolean {
    return this.at === this.seen;
  }
}
