/** Node 22 runner of the shared codec facade cases (test/codec/facade-cases.ts). */
import { test } from "node:test";
import { facadeCases } from "../test/codec/facade-cases.ts";

for (const c of facadeCases) test(c.name, { timeout: 30_000 }, c.run);
