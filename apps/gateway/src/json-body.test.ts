import { ApiError } from "@batch-gpt/contracts";
import { describe, expect, it } from "vitest";
import { parseJsonBody } from "./json-body.ts";

const limits = { maxDepth: 4, maxStringChars: 10 };
const wide = { maxDepth: 64, maxStringChars: 1000 };
const codeOf = (text: string, within = limits) => {
  try {
    parseJsonBody(text, within);
    return null;
  } catch (error) {
    return error instanceof ApiError ? error.code : "parse";
  }
};

describe("parseJsonBody", () => {
  it("tells keys of one object from equal keys elsewhere, escaped quotes and keys-lookalike values", () => {
    expect(codeOf(`{"a":"x\\"y","b":[1,{"a":2}],"c":{"a":"a"}}`)).toBeNull();
    expect(codeOf(`{"a":1,"b":{"c":1},"a":2}`)).toBe("duplicate_key");
    expect(codeOf(`{"a\\\\":1,"a\\u005c":2}`)).toBe("duplicate_key");
  });

  it("counts depth over objects and arrays, and string length once decoded", () => {
    expect(codeOf(`{"a":[[{}]]}`)).toBeNull();
    expect(codeOf(`{"a":[[{"b":[]}]]}`)).toBe("nesting_too_deep");
    expect(codeOf(`{"a":"\\u0041\\u0041\\u0041\\u0041"}`)).toBeNull();
    expect(codeOf(`{"a":"${"b".repeat(11)}"}`)).toBe("string_too_long");
  });

  it("leaves what is not JSON to JSON.parse", () => {
    expect(codeOf(`{"a":"unterminated`)).toBe("parse");
    expect(codeOf(`{"a":1,}`)).toBe("parse");
  });

  it("keeps integers beyond 2^53 as written, and the others as numbers", () => {
    const body = parseJsonBody(`{"big":-9007199254740993,"safe":9007199254740991,"x":1.5e300}`, limits);
    expect(JSON.stringify(body)).toBe(`{"big":-9007199254740993,"safe":9007199254740991,"x":1.5e+300}`);
    expect((body as { safe: unknown }).safe).toBe(9007199254740991);
  });

  it("refuses keys that reach a prototype, and numbers no JavaScript number holds", () => {
    expect(codeOf(`{"__proto__":{}}`, wide)).toBe("forbidden_key");
    expect(codeOf(`{"a":[{"__proto__":1}]}`, wide)).toBe("forbidden_key");
    expect(codeOf(`{"a":{"\u005f_proto__":1}}`, wide)).toBe("forbidden_key");
    expect(codeOf(`{"constructor":1}`, wide)).toBe("forbidden_key");
    // A tool's JSON schema may well name a property "constructor".
    expect(codeOf(`{"a":{"constructor":1,"prototype":2}}`, wide)).toBeNull();
    expect(codeOf(`{"a":1e400}`, wide)).toBe("number_out_of_range");
    expect(codeOf(`{"a":-1.5E+999}`, wide)).toBe("number_out_of_range");
    expect(codeOf(`{"a":1e300,"b":1e-400,"c":${"9".repeat(400)}}`, wide)).toBeNull();
  });
});
