// Reconnect delays: exponential with full jitter, so that many cells that lost control at once do
// not come back in lockstep.
export interface BackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
  readonly random?: () => number;
}

/** A random delay in [0, min(max, initial * 2^attempt)]. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const cap = Math.min(opts.maxMs ?? 10_000, (opts.initialMs ?? 200) * 2 ** Math.min(attempt, 20));
  return Math.floor((opts.random ?? Math.random)() * cap);
}
