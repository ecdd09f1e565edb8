// Number flags of the command line, refused in one line when they are not what they say.
import { PodbootError } from "../errors.ts";

export function parsePositive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new PodbootError(
      `${flag} takes a positive whole number, got ${value}`,
      `pass e.g. ${flag} 512`,
    );
  }
  return n;
}
