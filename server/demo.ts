/**
 * Static serving of the demo page (`--demo` / `--demo-dir`) under `/demo/` for both CLIs
 * (Bun and Deno); `node:fs` works in both. Paths are confined to the demo directory.
 *
 * @module
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, normalize, resolve, sep } from "node:path";

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  wasm: "application/wasm",
  map: "application/json",
};

/**
 * The demo directory: `explicit` (relative to the working directory), else `client/demo` next to
 * `sourceDir/..` or under the working directory; only one holding an `index.html` counts.
 */
export function findDemoDir(explicit: string | undefined, sourceDir: string, cwd: string): string | undefined {
  const candidates = explicit ? [resolve(cwd, explicit)] : [resolve(sourceDir, "../client/demo"), resolve(cwd, "client/demo")];
  return candidates.find((dir) => existsSync(join(dir, "index.html")));
}

/**
 * Answers `/demo` (redirect) and `/demo/*` (a file of `root`, `index.html` for directories);
 * `undefined` for every other path. Anything outside `root` or missing is 404.
 */
export function serveDemo(request: Request, root: string): Response | undefined {
  const url = new URL(request.url);
  if (url.pathname === "/demo") return Response.redirect(`${url.origin}/demo/`, 302);
  if (!url.pathname.startsWith("/demo/")) return undefined;
  if (request.method !== "GET" && request.method !== "HEAD") return new Response("method not allowed", { status: 405 });
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.pathname.slice("/demo/".length) || "index.html");
  } catch {
    return new Response("bad path", { status: 400 });
  }
  const path = normalize(join(root, decoded));
  if (path !== root && !path.startsWith(root + sep)) return new Response("not found", { status: 404 });
  let file = path;
  try {
    if (statSync(file).isDirectory()) file = join(file, "index.html");
    const body = readFileSync(file);
    const ext = file.slice(file.lastIndexOf(".") + 1).toLowerCase();
    return new Response(request.method === "HEAD" ? null : body, {
      headers: { "content-type": CONTENT_TYPES[ext] ?? "application/octet-stream", "cache-control": "no-cache" },
    });
  } catch {
    return new Response("not found", { status: 404 });
  }
}
