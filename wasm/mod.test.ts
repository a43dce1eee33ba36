/** Bun runner of the shared codec facade cases (test/codec/facade-cases.ts). */
import { test } from "bun:test";
import { facadeCases } from "../test/codec/facade-cases.ts";

for (const c of facadeCases) test(c.name, c.run, 30_000);
