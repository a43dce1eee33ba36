/**
 * Replaces a generated block of `bench/README.md` between `<!-- name:start -->` and
 * `<!-- name:end -->`, leaving the hand-written text around it alone.
 *
 * @module
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** Replaces the block; returns false when the file or the markers are missing. */
export function replaceBlock(path: string, name: string, content: string): boolean {
  if (!existsSync(path)) return false;
  const text = readFileSync(path, "utf8");
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return false;
  writeFileSync(path, `${text.slice(0, a + start.length)}\n${content.trim()}\n${text.slice(b)}`);
  return true;
}
