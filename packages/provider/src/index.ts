export {
  isPermanentFailure,
  isPermanentStatus,
  ProviderError,
  refusalAnswer,
  relayedError,
  untrackedAnswer,
} from "./errors.ts";
export { OpenAIProvider, type OpenAIProviderOptions } from "./openai-provider.ts";
export {
  type BatchProvider,
  isTerminalBatchStatus,
  type ProviderBatch,
  TERMINAL_BATCH_STATUSES,
} from "./provider.ts";
