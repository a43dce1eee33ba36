import { describe, expect, test } from "bun:test";
import { createElement } from "react";
import { renderToString } from "react-dom/server";
import { useWSE } from "./react.ts";

describe("useWSE (server rendering)", () => {
  test("renders the initial state without a DOM and without connecting", () => {
    let seen: ReturnType<typeof useWSE> | undefined;
    function Probe() {
      seen = useWSE({ url: "ws://127.0.0.1:1/wse", topics: ["t"] });
      return createElement("p", null, `${seen.state}|${seen.connectionHealth}|${seen.lastEvents.length}|${seen.isConnected}`);
    }
    const html = renderToString(createElement(Probe));
    expect(html).toBe("<p>disconnected|unknown|0|false</p>");
    expect(seen?.client).toBeNull();
    expect(seen?.stats).toBeNull();
    expect(seen?.lastEvent).toBeNull();
  });

  test("the send functions refuse clearly before the client exists", async () => {
    let result: ReturnType<typeof useWSE> | undefined;
    function Probe() {
      result = useWSE({ url: "ws://127.0.0.1:1/wse" });
      return null;
    }
    renderToString(createElement(Probe));
    await expect(result!.send("x", {})).rejects.toThrow(/not created yet/);
    await expect(result!.subscribe(["t"])).rejects.toThrow(/not created yet/);
  });
});

describe("core client stays React-free", () => {
  test("bundling client/mod.ts pulls in no react module", async () => {
    const out = await Bun.build({ entrypoints: [new URL("./mod.ts", import.meta.url).pathname], target: "browser", format: "esm" });
    expect(out.success).toBe(true);
    const inputs = await Promise.all(out.outputs.map((o) => o.text()));
    const code = inputs.join("\n");
    expect(code).not.toMatch(/from\s*["']react/);
    expect(code).not.toContain("react.production");
    expect(code).not.toContain("useEffect");
  }, 30_000);
});
