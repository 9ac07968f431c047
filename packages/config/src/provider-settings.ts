import { z } from "zod";

/** Where the batch provider is. The key stays in this process: never in Redis, Mongo or logs. */
export const providerSchema = z.object({
  OPENAI_API_KEY: z.string().min(1, "is required (the key batches are submitted with)"),
  OPENAI_BASE_URL: z.url().default("https://api.openai.com/v1"),
});
export type ProviderSettings = z.infer<typeof providerSchema>;
