import { z } from "zod";
import { intSetting } from "./env.ts";

/** Where the batch provider is. The key stays in this process: never in Redis, Mongo or logs. */
export const providerSchema = z.object({
  OPENAI_API_KEY: z.string().min(1, "is required (the key batches are submitted with)"),
  OPENAI_BASE_URL: z.url().default("https://api.openai.com/v1"),
  /**
   * How long a provider call may go without an answer: an API call's reply, and a file's upload or
   * download while no byte moves. Then the call fails and is retried (or looked up, for a create).
   */
  PROVIDER_TIMEOUT_MS: intSetting(100, 3_600_000).default(120_000),
});
export type ProviderSettings = z.infer<typeof providerSchema>;
