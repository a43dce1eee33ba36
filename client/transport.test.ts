import { describe, expect, test } from "bun:test";
import { WSEConnectionError } from "./errors.ts";
import { buildSocketUrl, runtimeSupportsHeaders } from "./transport.ts";

describe("transport", () => {
  test("Bun sends headers", () => {
    expect(runtimeSupportsHeaders()).toBe(true);
  });

  test("token goes into the query only where headers do not work (or when asked)", () => {
    expect(buildSocketUrl("ws://h:1/wse", { token: "T" }, true)).toBe("ws://h:1/wse");
    expect(buildSocketUrl("ws://h:1/wse", { token: "T" }, false)).toBe("ws://h:1/wse?token=T");
    expect(buildSocketUrl("ws://h:1/wse?a=1", { token: "T", tokenInQuery: true }, true)).toBe("ws://h:1/wse?a=1&token=T");
    expect(buildSocketUrl("ws://h:1/wse", { query: { format: "msgpack" } }, true)).toBe("ws://h:1/wse?format=msgpack");
  });

  test("http(s) URLs are mapped to ws(s); anything else is refused", () => {
    expect(buildSocketUrl("https://h/wse", {}, true)).toBe("wss://h/wse");
    expect(buildSocketUrl("http://h/wse", {}, true)).toBe("ws://h/wse");
    expect(() => buildSocketUrl("ftp://h/", {}, true)).toThrow(WSEConnectionError);
    expect(() => buildSocketUrl("not a url", {}, true)).toThrow(/invalid WebSocket URL/);
  });
});
