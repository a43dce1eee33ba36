/** Placeholder while the scenario is written. @module */
import type { Scenario } from "../lib/scenario.ts";
/** The redis scenario. */
export const scenario: Scenario = { name: "redis", title: "redis", async run() { return { name: "redis", title: "redis", skipped: "not written yet", tables: [], data: {}, notes: [] }; } };
