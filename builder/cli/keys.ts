// `podboot keygen`, `sign` and `verify`: minisign-compatible keys and signatures.
import { Command } from "commander";

export function registerKeyCommands(program: Command): void {
  program
    .command("keygen")
    .description("make a minisign-compatible Ed25519 key pair (the secret key is not encrypted)")
    .option("-s, --secret-key <file>", "secret key to write", "podboot.key")
    .option("-p, --public-key <file>", "public key to write", "podboot.pub")
    .option("--force", "replace existing key files")
    .action(async (opts: { secretKey: string; publicKey: string; force?: boolean }) => {
      const { keygen } = await import("../commands/sign.ts");
      await keygen({ ...opts, force: opts.force ?? false });
      process.stdout.write(`wrote ${opts.secretKey} (keep it secret) and ${opts.publicKey}\n`);
    });

  program
    .command("sign")
    .description("sign files: writes FILE.minisig next to each (minisign format)")
    .requiredOption("-s, --secret-key <file>", "secret key (from podboot keygen or minisign -G -W)")
    .argument("<files...>", "files to sign")
    .action(async (files: string[], opts: { secretKey: string }) => {
      const { signFiles } = await import("../commands/sign.ts");
      await signFiles(opts.secretKey, files, Math.floor(Date.now() / 1000));
    });

  program
    .command("verify")
    .description("verify FILE against FILE.minisig and a public key (minisign format)")
    .requiredOption("-p, --public-key <file>", "public key")
    .option("-x, --signature <file>", "signature file (default: FILE.minisig)")
    .argument("<file>", "file to verify")
    .action(async (file: string, opts: { publicKey: string; signature?: string }) => {
      const { verifyFile } = await import("../commands/sign.ts");
      const comment = await verifyFile({ ...opts, file });
      process.stdout.write(`signature and comment verified\ntrusted comment: ${comment}\n`);
    });
}
