/** Placeholder while the scenario is written. @module */
import type { Scenario } from "../lib/scenario.ts";
/** The variants scenario. */
export const scenario: Scenario = { name: "variants", title: "variants", async run() { return { name: "variants", title: "variants", skipped: "not written yet", tables: [], data: {}, notes: [] }; } };
