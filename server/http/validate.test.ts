import { describe, expect, test } from "bun:test";
import { bearerKey, constantTimeEquals } from "./api-key.ts";
import {
  HttpInputError,
  parseEpochParam,
  parseIntegerParam,
  readJsonObject,
  validateOptionalCloseCode,
  validateOptionalId,
  validateOptionalPriority,
  validateTopic,
  validateType,
} from "./validate.ts";

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof HttpInputError) return error.code;
    throw error;
  }
  return undefined;
}

describe("validators", () => {
  test("topics: 1–256 UTF-8 bytes, no control characters", () => {
    expect(validateTopic("prices.eur")).toBe("prices.eur");
    expect(validateTopic("a/b c:é")).toBe("a/b c:é");
    expect(validateTopic("x".repeat(256))).toHaveLength(256);
    expect(code(() => validateTopic("x".repeat(257)))).toBe("INVALID_TOPIC");
    expect(code(() => validateTopic("é".repeat(129)))).toBe("INVALID_TOPIC");
    expect(validateTopic("€".repeat(85))).toHaveLength(85); // 255 bytes
    expect(code(() => validateTopic("€".repeat(86)))).toBe("INVALID_TOPIC"); // 258 bytes
    expect(validateTopic("😀".repeat(64))).toHaveLength(128); // 256 bytes
    expect(code(() => validateTopic("😀".repeat(65)))).toBe("INVALID_TOPIC"); // 260 bytes
    expect(code(() => validateTopic(""))).toBe("INVALID_TOPIC");
    expect(code(() => validateTopic("a\nb"))).toBe("INVALID_TOPIC");
    expect(code(() => validateTopic("a\u0000"))).toBe("INVALID_TOPIC");
    expect(code(() => validateTopic("a\u0085"))).toBe("INVALID_TOPIC");
    expect(code(() => validateTopic(42))).toBe("INVALID_TOPIC");
  });

  test("type, id, priority, close code", () => {
    expect(validateType("price_update")).toBe("price_update");
    expect(code(() => validateType(""))).toBe("INVALID_TYPE");
    expect(code(() => validateType(null))).toBe("INVALID_TYPE");
    expect(validateOptionalId(undefined)).toBeUndefined();
    expect(validateOptionalId("abc")).toBe("abc");
    expect(code(() => validateOptionalId(""))).toBe("INVALID_ID");
    expect(code(() => validateOptionalId(5))).toBe("INVALID_ID");
    expect(validateOptionalPriority(10)).toBe(10);
    expect(code(() => validateOptionalPriority(11))).toBe("INVALID_PRIORITY");
    expect(code(() => validateOptionalPriority(1.5))).toBe("INVALID_PRIORITY");
    expect(validateOptionalCloseCode(1000)).toBe(1000);
    expect(validateOptionalCloseCode(4000)).toBe(4000);
    expect(code(() => validateOptionalCloseCode(1006))).toBe("INVALID_CODE");
    expect(code(() => validateOptionalCloseCode(5000))).toBe("INVALID_CODE");
  });

  test("query parameters", () => {
    expect(parseIntegerParam(undefined, "since", -1)).toBeUndefined();
    expect(parseIntegerParam("-1", "since", -1)).toBe(-1);
    expect(parseIntegerParam("42", "since", -1)).toBe(42);
    expect(code(() => parseIntegerParam("-2", "since", -1))).toBe("INVALID_QUERY");
    expect(code(() => parseIntegerParam("1e3", "since", -1))).toBe("INVALID_QUERY");
    expect(parseEpochParam("0000beef")).toBe("0000beef");
    expect(code(() => parseEpochParam("BEEF"))).toBe("INVALID_QUERY");
  });
});

describe("readJsonObject", () => {
  const post = (body: BodyInit, headers: Record<string, string> = {}) =>
    new Request("http://h/api", { method: "POST", body, headers });

  test("parses an object", async () => {
    expect(await readJsonObject(post('{"a":1}'), 100)).toEqual({ a: 1 });
  });

  test("rejects non-objects, bad JSON, bad UTF-8 and oversize bodies", async () => {
    const reject = async (request: Request, max = 100) => {
      try {
        await readJsonObject(request, max);
      } catch (error) {
        return (error as HttpInputError).code;
      }
      return "accepted";
    };
    expect(await reject(post("[1]"))).toBe("INVALID_BODY");
    expect(await reject(post("null"))).toBe("INVALID_BODY");
    expect(await reject(post("{"))).toBe("INVALID_JSON");
    expect(await reject(post(""))).toBe("INVALID_JSON");
    expect(await reject(post(new Uint8Array([0x7b, 0xff, 0x7d])))).toBe("INVALID_JSON");
    expect(await reject(post(JSON.stringify({ x: "y".repeat(200) })))).toBe("BODY_TOO_LARGE");
    // A stream without Content-Length is cut off while reading.
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode("x".repeat(50)));
        controller.close();
      },
    });
    expect(await reject(new Request("http://h/api", { method: "POST", body: stream, duplex: "half" } as RequestInit))).toBe("BODY_TOO_LARGE");
  });
});

describe("api key", () => {
  test("bearerKey", () => {
    expect(bearerKey("Bearer abc")).toBe("abc");
    expect(bearerKey("bearer  abc ")).toBe("abc");
    expect(bearerKey("Basic abc")).toBeNull();
    expect(bearerKey(null)).toBeNull();
    expect(bearerKey("Bearer a b")).toBeNull();
  });

  test("constantTimeEquals", async () => {
    expect(await constantTimeEquals("secret", "secret")).toBe(true);
    expect(await constantTimeEquals("secret", "secreT")).toBe(false);
    expect(await constantTimeEquals("secret", "secret-longer")).toBe(false);
    expect(await constantTimeEquals("", "")).toBe(true);
  });
});
