/** The client's end-to-end scenarios on Node 22 (global WebSocket from undici). */
import { after, before, test } from "node:test";
import { type ServerProcess, startServer } from "./support.ts";
import { badToken, dropAndRecover, encryptedStream, killAndRestart } from "./scenarios.ts";

let server: ServerProcess;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.kill();
});

test("node: encrypted, zstd-capable stream in order", { timeout: 20_000 }, () => encryptedStream(server));
test("node: bad token is final (4401)", { timeout: 20_000 }, () => badToken(server));
test("node: socket dropped, server up → recovered, no gap, no dup", { timeout: 20_000 }, () => dropAndRecover(server));
test("node: server SIGKILLed and restarted → one discontinuity, no dup", { timeout: 30_000 }, () => killAndRestart());
