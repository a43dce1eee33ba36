/** Placeholder while the scenario is written. @module */
import type { Scenario } from "../lib/scenario.ts";
/** The connections scenario. */
export const scenario: Scenario = { name: "connections", title: "connections", async run() { return { name: "connections", title: "connections", skipped: "not written yet", tables: [], data: {}, notes: [] }; } };
