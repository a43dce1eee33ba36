/** Placeholder while the scenario is written. @module */
import type { Scenario } from "../lib/scenario.ts";
/** The client scenario. */
export const scenario: Scenario = { name: "client", title: "client", async run() { return { name: "client", title: "client", skipped: "not written yet", tables: [], data: {}, notes: [] }; } };
