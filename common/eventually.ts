// Waits for a condition with a deadline. Tests use this instead of fixed sleeps.
export interface EventuallyOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  readonly message?: string;
}

export async function eventually<T>(
  fn: () => T | Promise<T>,
  opts: EventuallyOptions = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const interval = opts.intervalMs ?? 20;
  let lastError: unknown;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`${opts.message ?? "condition not met"} within ${opts.timeoutMs ?? 10_000} ms: ${why}`, {
        cause: lastError,
      });
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
