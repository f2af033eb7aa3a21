// Structured JSON logging (pino). Each binary builds one root logger in its composition root and
// hands child loggers ({component, cell, ...}) to what it constructs. Library-like modules take a
// logger argument that defaults to silentLogger.
import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

export interface LoggerOptions {
  readonly level?: LevelWithSilent;
  readonly name?: string;
  /** Where to write; defaults to stdout (fd 1). */
  readonly destination?: number | string;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: { name: opts.name ?? "weft", pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ["token", "authorization", "*.token", "*.authorization", "key"], censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: opts.destination ?? 1, sync: false }),
  );
}

export const silentLogger: Logger = pino({ level: "silent" });
