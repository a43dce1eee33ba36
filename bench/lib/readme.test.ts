import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { replaceBlock } from "./readme.ts";

test("only the marked block is replaced", () => {
  const path = `${mkdtempSync(`${tmpdir()}/readme-`)}/README.md`;
  writeFileSync(path, "intro\n<!-- results:start -->\nold\n<!-- results:end -->\noutro\n");
  expect(replaceBlock(path, "results", "new table")).toBe(true);
  expect(readFileSync(path, "utf8")).toBe("intro\n<!-- results:start -->\nnew table\n<!-- results:end -->\noutro\n");
  expect(replaceBlock(path, "missing", "x")).toBe(false);
});
