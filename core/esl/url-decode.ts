const utf8 = new TextDecoder('utf-8', { fatal: true });
const PERCENT_RUN = /(?:%[0-9A-Fa-f]{2})+/g;

/**
 * Decodes FreeSWITCH's URL-encoded header values without ever throwing.
 *
 * FreeSWITCH's plain encoding passes an existing `%XX` through unencoded (measured: a value
 * `caf%E9` arrives as `caf%E9`), so `decodeURIComponent` would throw `URIError` on text a caller
 * controls. Here each run of `%XX` escapes is decoded only when its bytes are valid UTF-8;
 * otherwise the run stays as literal text. A stray `%` is literal too.
 */
export function decodeHeaderValue(value: string): string {
  if (value.indexOf('%') === -1) return value;
  return value.replace(PERCENT_RUN, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    try {
      return utf8.decode(bytes);
    } catch {
      return run;
    }
  });
}
