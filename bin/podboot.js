#!/usr/bin/env node
// Entry point for the `podboot` command: registers tsx so the TypeScript sources run as they are.
import { register } from "tsx/esm/api";

register();
await import("../builder/cli.ts");
