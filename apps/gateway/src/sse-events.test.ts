import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { chatChunks, completionChunks, responseEvents } from "./sse-events.ts";

describe("answer bodies replayed as stream events", () => {
  const completion = {
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1,
    model: "m",
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: null,
          refusal: null,
          tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: '{"a":1}' } }],
        },
        finish_reason: "tool_calls",
      },
      { index: 1, message: { role: "assistant", content: "hi" }, finish_reason: "length" },
    ],
    usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
  };

  it("gives each chat choice its role, content, tool calls and finish; usage only when asked", () => {
    const chunks = chatChunks(completion, { includeUsage: true }) as unknown as OpenAI.ChatCompletionChunk[];
    const of = (i: number) => chunks.flatMap((c) => c.choices.filter((ch) => ch.index === i));
    expect(
      of(0)
        .map((c) => c.delta.tool_calls?.[0]?.function?.arguments)
        .filter(Boolean),
    ).toEqual(['{"a":1}']);
    expect(of(0).at(-1)?.finish_reason).toBe("tool_calls");
    expect(
      of(1)
        .map((c) => c.delta.content ?? "")
        .join(""),
    ).toBe("hi");
    expect(of(1).at(-1)?.finish_reason).toBe("length");
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: completion.usage });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chatChunks(completion, { includeUsage: false }).some((c) => "usage" in c)).toBe(false);
  });

  it("streams completions per choice and Responses as numbered events ending in completed", () => {
    const chunks = completionChunks(
      { id: "cmpl-1", created: 1, model: "m", choices: [{ index: 0, text: "abc", finish_reason: "stop" }] },
      { includeUsage: false },
    );
    expect(chunks.map((c) => (c.choices as { text: string }[])[0]?.text).join("")).toBe("abc");
    const events = responseEvents({
      id: "resp_1",
      object: "response",
      status: "completed",
      output: [
        {
          id: "msg_1",
          type: "message",
          role: "assistant",
          content: [{ type: "output_text", text: "yo", annotations: [] }],
        },
      ],
    });
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta)).toEqual(["yo"]);
    expect(events.at(-1)?.type).toBe("response.completed");
  });
});
