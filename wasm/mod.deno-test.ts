/** Deno runner of the shared codec facade cases (test/codec/facade-cases.ts). */
import { facadeCases } from "../test/codec/facade-cases.ts";

// Typed locally so the project's tsc (Bun types) checks this file too; at run time it is Deno's.
declare const Deno: {
  test(definition: { name: string; sanitizeOps: boolean; sanitizeResources: boolean; fn: () => void }): void;
};

for (const c of facadeCases) Deno.test({ name: c.name, fn: c.run, sanitizeResources: false, sanitizeOps: false });
