import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors.ts";

const NO_KEY =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.";

function mask(key: string): string {
  if (key.length <= 8) return `${key.slice(0, 2)}***`;
  return `${key.slice(0, 3)}${"*".repeat(Math.min(key.length - 7, 40))}${key.slice(-4)}`;
}

/** Bearer auth: any non-empty key, or one of `apiKeys` when given. */
export function bearerAuth(apiKeys: readonly string[] | undefined): MiddlewareHandler {
  const allowed = apiKeys && apiKeys.length > 0 ? new Set(apiKeys) : null;
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(.*)$/i.exec(header.trim());
    const key = match?.[1]?.trim() ?? "";
    if (key === "") throw new ApiError(401, NO_KEY);
    if (allowed && !allowed.has(key)) {
      throw new ApiError(
        401,
        `Incorrect API key provided: ${mask(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        { code: "invalid_api_key" },
      );
    }
    await next();
  };
}
