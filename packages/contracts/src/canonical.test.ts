import { describe, expect, it } from "vitest";
import { canonicalJson, requestKey } from "./canonical.ts";

describe("canonicalJson", () => {
  it("sorts object keys at every depth, inside arrays too", () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}',
    );
  });

  it("gives the same text whatever the key order", () => {
    const a = { model: "m", messages: [{ role: "user", content: "hi" }], temperature: 0.5 };
    const b = { temperature: 0.5, messages: [{ content: "hi", role: "user" }], model: "m" };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });

  it("keeps array order: arrays are sequences, not sets", () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
    expect(canonicalJson({ input: ["a", "b"] })).not.toBe(canonicalJson({ input: ["b", "a"] }));
  });

  it("is valid JSON equal to its input", () => {
    const value = { s: 'quote " and \\ and\nnewline', n: -1.5e-7, t: true, f: false, z: null, e: [], o: {} };
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
  });

  it("writes scalars as JSON does", () => {
    expect(canonicalJson("x")).toBe('"x"');
    expect(canonicalJson(3)).toBe("3");
    expect(canonicalJson(true)).toBe("true");
    expect(canonicalJson(null)).toBe("null");
  });

  it("leaves undefined object fields out, as JSON does, and writes undefined as null elsewhere", () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(canonicalJson([1, undefined])).toBe("[1,null]");
    expect(canonicalJson(undefined)).toBe("null");
  });

  it("tells apart values JSON tells apart", () => {
    const distinct = [
      { a: 1 },
      { a: "1" },
      { a: [1] },
      { a: { b: 1 } },
      { a: null },
      {},
      { b: 1 },
      { a: 1, b: 1 },
      [{ a: 1 }],
    ];
    expect(new Set(distinct.map(canonicalJson)).size).toBe(distinct.length);
  });

  it("sorts keys by code unit, so the order does not depend on locale", () => {
    expect(canonicalJson({ b: 1, B: 2, a: 3, _: 4, "10": 5, "9": 6 })).toBe(
      '{"10":5,"9":6,"B":2,"_":4,"a":3,"b":1}',
    );
  });
});

describe("requestKey", () => {
  const body = {
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "hello" }],
    temperature: 0,
    response_format: { type: "json_schema", json_schema: { name: "x", schema: { a: 1, b: 2 } } },
  };
  const key = (scope = "owner-a", endpoint = "/v1/chat/completions", b: Record<string, unknown> = body) =>
    requestKey(scope, endpoint, b);

  it("keeps the keys earlier versions stored (cache entries, dedup claims and markers are found by them)", () => {
    const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
    // Digests computed by the first implementation (entries, filter, sort, map, join and createHash).
    const pinned: [Record<string, unknown>, string][] = [
      [
        { model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] },
        "181d76b0eb3ec92e93e001d4bed013895af47608377cdf67233a28b9b1304056",
      ],
      [
        {
          model: "m",
          stream: true,
          stream_options: { include_usage: true },
          temperature: 0.5,
          ключ: "значение",
          é: [1, null, { b: 2, a: [] }],
          "10": 5,
          "9": 6,
          B: 1,
          _: 2,
          seed: rawJson("123456789012345678901"),
        },
        "4ec63d5899c014d1f2636de4f08afa33acd4dbcf3f91b8a004142818e2d3401f",
      ],
      [
        {
          model: "m",
          input: ["a", "b"],
          nested: { z: { y: { x: [[1, 2], [3]] } } },
          empty: {},
          s: 'quote " and \\ and \u2028',
          undef: undefined,
        },
        "bbd6d939ccf64c409ced2262d81a576eae85712cce2e2a00abea2396ae883d59",
      ],
    ];
    for (const [b, digest] of pinned) expect(requestKey("tenant-a", "/v1/chat/completions", b)).toBe(digest);
  });

  it("is a sha256 hex digest", () => {
    expect(key()).toMatch(/^[0-9a-f]{64}$/);
  });

  it("is stable for the same request", () => {
    expect(key()).toBe(key());
    expect(key("owner-a", "/v1/chat/completions", structuredClone(body))).toBe(key());
  });

  it("does not depend on key order, at any depth", () => {
    const reordered = {
      response_format: { json_schema: { schema: { b: 2, a: 1 }, name: "x" }, type: "json_schema" },
      temperature: 0,
      messages: [{ content: "hello", role: "user" }],
      model: "gpt-4o-mini",
    };
    expect(key("owner-a", "/v1/chat/completions", reordered)).toBe(key());
  });

  it("differs when any value differs, however deep", () => {
    const variants: Record<string, unknown>[] = [
      { ...body, model: "gpt-4.1-nano" },
      { ...body, temperature: 1 },
      { ...body, temperature: "0" },
      { ...body, messages: [{ role: "user", content: "hello!" }] },
      { ...body, messages: [{ role: "system", content: "hello" }] },
      { ...body, messages: [...body.messages, ...body.messages] },
      {
        ...body,
        response_format: { type: "json_schema", json_schema: { name: "x", schema: { a: 1, b: 3 } } },
      },
      { ...body, seed: 1 },
    ];
    const keys = new Set([key(), ...variants.map((v) => key("owner-a", "/v1/chat/completions", v))]);
    expect(keys.size).toBe(variants.length + 1);
  });

  it("differs by message order", () => {
    const two = [
      { role: "user", content: "a" },
      { role: "user", content: "b" },
    ];
    expect(key("owner-a", "/v1/chat/completions", { ...body, messages: two })).not.toBe(
      key("owner-a", "/v1/chat/completions", { ...body, messages: [...two].reverse() }),
    );
  });

  it("is scoped to the owner: one client's cache never answers another", () => {
    expect(key("owner-a")).not.toBe(key("owner-b"));
    expect(key("")).not.toBe(key("owner-a"));
  });

  it("is scoped to the endpoint", () => {
    const input = { model: "m", input: "same text" };
    expect(requestKey("o", "/v1/embeddings", input)).not.toBe(requestKey("o", "/v1/responses", input));
  });

  it("cannot be forged by moving text between scope, endpoint and body", () => {
    // Plain concatenation would make these collide; the structured encoding keeps them apart.
    expect(requestKey("a|/v1/x", "", { model: "m" })).not.toBe(requestKey("a", "|/v1/x", { model: "m" }));
    expect(requestKey("a", '","endpoint":"x', { model: "m" })).not.toBe(
      requestKey('a","endpoint":"x', "", { model: "m" }),
    );
  });

  it("leaves out delivery fields: streamed and plain calls share one answer", () => {
    const plain = key();
    expect(key("owner-a", "/v1/chat/completions", { ...body, stream: true })).toBe(plain);
    expect(key("owner-a", "/v1/chat/completions", { ...body, stream: false })).toBe(plain);
    expect(
      key("owner-a", "/v1/chat/completions", {
        ...body,
        stream: true,
        stream_options: { include_usage: true },
      }),
    ).toBe(plain);
  });

  it("keeps fields named like delivery fields when they are nested", () => {
    const nested = { ...body, metadata: { stream: "yes" } };
    expect(key("owner-a", "/v1/chat/completions", nested)).not.toBe(key());
  });

  it("does not change the body it is given", () => {
    const given = { ...body, stream: true, stream_options: { include_usage: true } };
    const copy = structuredClone(given);
    key("owner-a", "/v1/chat/completions", given);
    expect(given).toEqual(copy);
  });
});
