export { OpenAIProvider, type OpenAIProviderOptions } from "./openai-provider.ts";
export {
  type BatchProvider,
  isTerminalBatchStatus,
  type ProviderBatch,
  ProviderError,
  TERMINAL_BATCH_STATUSES,
} from "./provider.ts";
