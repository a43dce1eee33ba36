/** Deno runner of the shared codec facade cases (test/codec/facade-cases.ts). */
import { facadeCases } from "../test/codec/facade-cases.ts";

for (const c of facadeCases) Deno.test({ name: c.name, fn: c.run, sanitizeResources: false, sanitizeOps: false });
