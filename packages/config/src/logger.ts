import { pino } from "pino";

export type Logger = pino.Logger;

/**
 * Structured JSON logs on stdout. Anything that could carry a key is redacted, so the OpenAI key and
 * client keys never reach a log line.
 */
export function createLogger(app: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({
    name: app,
    level,
    redact: {
      paths: [
        "apiKey",
        "*.apiKey",
        "authorization",
        "*.authorization",
        "headers.authorization",
        "OPENAI_API_KEY",
      ],
      censor: "[redacted]",
    },
  });
}
