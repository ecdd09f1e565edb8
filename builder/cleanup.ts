// Temp paths that must not survive an interrupted build. Steps register what they are writing;
// on SIGINT/SIGTERM everything registered is removed before podboot exits, so neither out/ nor
// the cache is left with a half-written file.
import { rmSync } from "node:fs";

const pending = new Set<string>();
let installed = false;

export function trackTemp(target: string): () => void {
  pending.add(target);
  installHandlers();
  return () => pending.delete(target);
}

export function removeTracked(): void {
  for (const target of pending) rmSync(target, { recursive: true, force: true });
  pending.clear();
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      removeTracked();
      process.stderr.write(
        `\npodboot: interrupted (${signal}); temporary files removed — run the command again to continue\n`,
      );
      process.exit(130);
    });
  }
}
