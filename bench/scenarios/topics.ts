/** Placeholder while the scenario is written. @module */
import type { Scenario } from "../lib/scenario.ts";
/** The topics scenario. */
export const scenario: Scenario = { name: "topics", title: "topics", async run() { return { name: "topics", title: "topics", skipped: "not written yet", tables: [], data: {}, notes: [] }; } };
