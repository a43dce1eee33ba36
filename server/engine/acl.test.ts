import { describe, expect, test } from "bun:test";
import { AclError, ALLOW_ALL, compileAcl, globMatches, MAX_ACL_GLOBS } from "./acl.ts";

describe("globMatches", () => {
  const cases: [string, string, boolean][] = [
    ["prices", "prices", true],
    ["prices", "prices2", false],
    ["prices", "price", false],
    ["prices.*", "prices.eur", true],
    ["prices.*", "prices.", true],
    ["prices.*", "prices", false],
    ["prices.*", "prices.eur.spot", true],
    ["*", "", true],
    ["*", "anything/at.all", true],
    ["?", "a", true],
    ["?", "", false],
    ["?", "ab", false],
    ["user.?", "user.7", true],
    ["user.?", "user.42", false],
    ["a*b*c", "aXXbYYc", true],
    ["a*b*c", "aXXbYY", false],
    ["*.eur", "prices.eur", true],
    ["*.eur", "prices.usd", false],
    ["a?c*", "abcdef", true],
    ["**", "x", true],
    ["a.b", "aXb", false], // '.' is literal, not a regex wildcard
    ["[a]", "[a]", true],
    ["[a]", "a", false],
    ["ü?", "üé", true], // '?' matches one code point
    ["😀*", "😀x", true],
  ];
  for (const [glob, topic, expected] of cases) {
    test(`${JSON.stringify(glob)} vs ${JSON.stringify(topic)} → ${expected}`, () => {
      expect(globMatches(glob, topic)).toBe(expected);
    });
  }

  test("hostile globs stay fast (no exponential backtracking)", () => {
    const glob = "*a".repeat(40) + "b";
    const topic = "a".repeat(256);
    expect(globMatches(glob, topic)).toBe(false);
  });
});

describe("compileAcl", () => {
  test("absent claim → null (no restriction)", () => {
    expect(compileAcl(undefined)).toBeNull();
    expect(compileAcl(null)).toBeNull();
    expect(ALLOW_ALL.allows("x")).toBe(true);
  });

  test("empty allow = all topics", () => {
    const acl = compileAcl({})!;
    expect(acl.allows("a")).toBe(true);
    expect(compileAcl({ allow: [] })!.allows("anything")).toBe(true);
  });

  test("allow list restricts", () => {
    const acl = compileAcl({ allow: ["chat.*", "news"] })!;
    expect(acl.allows("chat.room1")).toBe(true);
    expect(acl.allows("news")).toBe(true);
    expect(acl.allows("newsletter")).toBe(false);
    expect(acl.allows("admin")).toBe(false);
  });

  test("deny wins over allow", () => {
    const acl = compileAcl({ allow: ["chat.*"], deny: ["chat.admin*"] })!;
    expect(acl.allows("chat.room")).toBe(true);
    expect(acl.allows("chat.admin")).toBe(false);
    expect(acl.allows("chat.admins")).toBe(false);
  });

  test("deny only = everything except the denied", () => {
    const acl = compileAcl({ deny: ["secret.*"] })!;
    expect(acl.allows("public")).toBe(true);
    expect(acl.allows("secret.x")).toBe(false);
  });

  test("exposes its lists", () => {
    const acl = compileAcl({ allow: ["a"], deny: ["b"] })!;
    expect(acl.allow).toEqual(["a"]);
    expect(acl.deny).toEqual(["b"]);
  });

  test("malformed claims throw AclError", () => {
    for (const bad of ["x", 42, true, ["a"], { allow: "a" }, { deny: [1] }, { allow: [null] }]) {
      expect(() => compileAcl(bad)).toThrow(AclError);
    }
    expect(() => compileAcl({ allow: new Array(MAX_ACL_GLOBS + 1).fill("a") })).toThrow(AclError);
    expect(() => compileAcl({ allow: ["x".repeat(2000)] })).toThrow(AclError);
  });

  test("null lists are treated as absent", () => {
    expect(compileAcl({ allow: null, deny: null })!.allows("x")).toBe(true);
  });
});
