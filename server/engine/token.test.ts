import { describe, expect, test } from "bun:test";
import { extractToken, readCookie } from "./token.ts";

const req = (url: string, headers: Record<string, string> = {}) => new Request(url, { headers });

describe("extractToken", () => {
  test("cookie wins over header and query", () => {
    const r = req("http://h/wse?token=q", { cookie: "a=1; access_token=c", authorization: "Bearer h" });
    expect(extractToken(r)).toBe("c");
  });

  test("Authorization: Bearer wins over query", () => {
    expect(extractToken(req("http://h/wse?token=q", { authorization: "Bearer h.e.ader" }))).toBe("h.e.ader");
    expect(extractToken(req("http://h/wse", { authorization: "bearer lower" }))).toBe("lower");
  });

  test("query token last", () => {
    expect(extractToken(req("http://h/wse?format=msgpack&token=q.q.q"))).toBe("q.q.q");
  });

  test("query can be disabled", () => {
    expect(extractToken(req("http://h/wse?token=q"), { allowQuery: false })).toBeNull();
  });

  test("custom cookie name", () => {
    const r = req("http://h/wse", { cookie: "access_token=wrong; jwt=right" });
    expect(extractToken(r, { cookieName: "jwt" })).toBe("right");
  });

  test("non-Bearer Authorization is ignored", () => {
    expect(extractToken(req("http://h/wse", { authorization: "Basic dXNlcjpwYXNz" }))).toBeNull();
    expect(extractToken(req("http://h/wse", { authorization: "Bearer" }))).toBeNull();
  });

  test("no token anywhere → null", () => {
    expect(extractToken(req("http://h/wse"))).toBeNull();
    expect(extractToken(req("http://h/wse?token="))).toBeNull();
  });

  test("the query is read as URLSearchParams reads it (percent-encoded name and value); no query, no token", () => {
    expect(extractToken(req("http://h/wse?%74oken=a%2Eb.c"))).toBe("a.b.c");
    expect(extractToken(req("http://h/token/wse"))).toBeNull();
    expect(extractToken({ url: "/wse/token=t", headers: new Headers() })).toBeNull();
  });

  test("works with a plain object and a relative URL", () => {
    expect(extractToken({ url: "/wse?token=t", headers: new Headers() })).toBe("t");
  });
});

describe("readCookie", () => {
  test("finds, unquotes and decodes", () => {
    expect(readCookie("x=1; access_token=%41b", "access_token")).toBe("Ab");
    expect(readCookie('access_token="quoted"', "access_token")).toBe("quoted");
    expect(readCookie("access_token=%E0%A4%A", "access_token")).toBe("%E0%A4%A");
  });

  test("missing or empty → null", () => {
    expect(readCookie(null, "a")).toBeNull();
    expect(readCookie("b=1", "a")).toBeNull();
    expect(readCookie("a=", "a")).toBeNull();
    expect(readCookie("garbage;;;", "a")).toBeNull();
    expect(readCookie("xa=1", "a")).toBeNull();
  });
});
