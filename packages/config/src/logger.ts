import { redactSecrets } from "@batch-gpt/contracts";
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
    // An error's message and stack can quote a URL with its password or a key (a driver's parse error,
    // a provider's refusal): masked in every logged error; `input` (Node's URL errors) is dropped.
    serializers: { err: scrubbedError },
  });
}

export function scrubbedError(err: unknown): unknown {
  if (typeof err === "string") return redactSecrets(err);
  if (!(err instanceof Error)) return err;
  const { input: _input, ...serialized } = pino.stdSerializers.err(err) as Record<string, unknown>;
  for (const field of ["message", "stack"]) {
    if (typeof serialized[field] === "string") serialized[field] = redactSecrets(serialized[field]);
  }
  return serialized;
}
