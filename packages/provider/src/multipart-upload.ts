import { randomBytes } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { ProviderError } from "./errors.ts";

/**
 * POSTs a file as multipart/form-data with a known Content-Length, streaming it from disk. The SDK's
 * `toFile` would read the whole file into memory first (hundreds of MB for a full batch).
 */
export function streamMultipartUpload(opts: {
  url: string;
  apiKey: string;
  path: string;
  filename: string;
  fields: Record<string, string>;
  /** The request fails when no byte moves either way for this long (sending the file, or awaiting the reply). */
  idleTimeoutMs: number;
  /** Abandons the upload (the process is stopping). */
  signal?: AbortSignal;
}): Promise<unknown> {
  const boundary = `----batchgpt${randomBytes(12).toString("hex")}`;
  const fieldParts = Object.entries(opts.fields).map(
    ([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  );
  const head = Buffer.from(
    `${fieldParts.join("")}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${opts.filename}"\r\n` +
      "Content-Type: application/jsonl\r\n\r\n",
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const size = statSync(opts.path).size;
  const url = new URL(opts.url);
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;

  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        ...(opts.signal ? { signal: opts.signal } : {}),
        headers: {
          Authorization: `Bearer ${opts.apiKey}`,
          "Content-Type": `multipart/form-data; boundary=${boundary}`,
          "Content-Length": head.length + size + tail.length,
        },
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {}
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(body);
          else reject(ProviderError.fromResponse(status, body, `file upload failed with ${status}`));
        });
        res.on("error", (err) => reject(new ProviderError(`file upload failed: ${err.message}`)));
        res.on("aborted", () => reject(new ProviderError("file upload failed: the reply was cut short")));
      },
    );
    req.on("error", (err) => reject(new ProviderError(`file upload failed: ${err.message}`)));
    // Socket inactivity: a provider (or proxy) that takes the connection and then says nothing.
    req.setTimeout(opts.idleTimeoutMs, () =>
      req.destroy(new Error(`no data moved for ${opts.idleTimeoutMs} ms`)),
    );
    req.write(head);
    const file = createReadStream(opts.path);
    file.on("error", (err) => req.destroy(err));
    file.on("end", () => req.end(tail));
    // A request that ends early (timeout, abort, refusal) lets go of the file too.
    req.on("close", () => file.destroy());
    file.pipe(req, { end: false });
  });
}
