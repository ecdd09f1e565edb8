// A client of QEMU's machine protocol (QMP) on a unix socket: JSON commands and their answers,
// one connection per call. `podboot machine` uses it to power a VM off (ACPI), ask whether it
// runs, and quit it.
import { connect } from "node:net";

export interface QmpReply {
  return?: unknown;
  error?: { class: string; desc: string };
}

/** Runs one QMP command (after the capabilities handshake); rejects when the socket is dead. */
export function qmp(
  socket: string,
  command: string,
  args?: object,
  timeoutMs = 5000,
): Promise<QmpReply> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`QMP on ${socket} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    let buffer = "";
    let stage = 0;
    conn.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    conn.on("data", (chunk) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (!line) continue;
        const message = JSON.parse(line) as QmpReply & { QMP?: unknown; event?: string };
        if (message.event) continue;
        if (stage === 0 && message.QMP) {
          stage = 1;
          conn.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n");
        } else if (stage === 1) {
          stage = 2;
          conn.write(JSON.stringify({ execute: command, ...(args && { arguments: args }) }) + "\n");
        } else if (stage === 2) {
          clearTimeout(timer);
          conn.end();
          resolve(message);
        }
      }
    });
  });
}
