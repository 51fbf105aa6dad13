/** How one POST went, and whether trying again can help. */
export type PostOutcome =
  | { ok: true; status: number }
  | {
      ok: false;
      /** Network error, timeout, 5xx, 408, 429: yes. Any other answer (4xx, a redirect): no. */
      retry: boolean;
      status: number | undefined;
      /** For logs: `HTTP 503`, `timed out after 5000 ms`, `ECONNREFUSED`… */
      detail: string;
      /** From a Retry-After header (429, 503). */
      retryAfterMs: number | undefined;
    };

/** Longest Retry-After honoured: a receiver cannot park an event for a day. */
const MAX_RETRY_AFTER_MS = 3600_000;

function retryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}

function networkDetail(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/**
 * POSTs `body` once. Redirects are not followed (a receiver that moved answers a 3xx, which is
 * reported, not chased to wherever it points); the answer's body is not read.
 */
export async function postOnce(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<PostOutcome> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body, headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    return { ok: false, retry: true, status: undefined, detail: networkDetail(err, timeoutMs), retryAfterMs: undefined };
  }
  await res.body?.cancel().catch(() => {});
  const status = res.status;
  if (status >= 200 && status < 300) return { ok: true, status };
  const retry = status >= 500 || status === 408 || status === 429;
  return { ok: false, retry, status, detail: `HTTP ${status}`, retryAfterMs: retry ? retryAfter(res.headers.get('retry-after')) : undefined };
}
