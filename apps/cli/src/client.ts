/** What the CLI sends to the gateway's admin API: JSON over HTTP with the admin key as a bearer token. */
export class AdminClient {
  readonly url: string;
  readonly #key: string | undefined;

  constructor(url: string, key: string | undefined) {
    this.url = url.replace(/\/+$/, "");
    this.#key = key;
  }

  get<T>(path: string): Promise<T> {
    return this.#call<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.#call<T>("POST", path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.#call<T>("DELETE", path);
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#key) headers.authorization = `Bearer ${this.#key}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`${this.url}/admin/api${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach the gateway at ${this.url} (${cause?.code ?? cause?.message ?? String(error)})`,
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const message = (parsed as { error?: { message?: string } } | undefined)?.error?.message;
      throw new CliError(
        `${message ?? (text.slice(0, 200) || response.statusText)} (HTTP ${response.status})`,
      );
    }
    return parsed as T;
  }
}

/** A failure to report as one line on stderr (no stack trace): exit code 1, or 2 for usage errors. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}
