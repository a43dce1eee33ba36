/** The client's end-to-end scenarios on Deno. */
import { type ServerProcess, startServer } from "./support.ts";
import { badToken, dropAndRecover, encryptedStream, killAndRestart } from "./scenarios.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({ name: "deno: client end-to-end", ...opts }, async (t) => {
  const server: ServerProcess = await startServer();
  try {
    await t.step({ name: "encrypted, zstd-capable stream in order", ...opts, fn: () => encryptedStream(server) });
    await t.step({ name: "bad token is final (4401)", ...opts, fn: () => badToken(server) });
    await t.step({ name: "socket dropped, server up → recovered, no gap, no dup", ...opts, fn: () => dropAndRecover(server) });
  } finally {
    await server.kill();
  }
});

Deno.test({ name: "deno: server SIGKILLed and restarted → one discontinuity, no dup", ...opts, fn: () => killAndRestart() });
