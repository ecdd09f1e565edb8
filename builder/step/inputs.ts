// A step's declared inputs and the cache key derived from them. Inputs are plain data (hashed as
// they are) or references: a file or directory the step reads, or a tool it drives, named in the
// key by its content hash or identity, never by its path, so a cache moved to another directory
// keeps its keys. The skeleton hands a step its inputs behind a guard that refuses any property it
// did not declare: an input left out of the key cannot be read by accident.
import { cacheKey } from "../cache/store.ts";

/** Something the step reads whose identity for the cache is `key`, not the value itself. */
export class Ref<T> {
  constructor(
    readonly value: T,
    readonly key: unknown,
  ) {}
  /** What the key sees (canonicalJson calls it). */
  toJSON(): unknown {
    return this.key;
  }
}

/** A file the step reads: the key holds its sha256, the step gets its path. */
export function fileRef(file: string, sha256: string): Ref<string> {
  return new Ref(file, sha256);
}

/** A value named in the key by an identity: a cached directory by its entry key, a tool by name. */
export function ref<T>(value: T, key: unknown): Ref<T> {
  return new Ref(value, key);
}

export type Inputs = Record<string, unknown>;

/** sha256 over the step's version and every declared input, references by their keys. */
export function stepKey(version: number, inputs: Inputs): string {
  // `format` is the name the step caches used for the version since their first entries.
  return cacheKey({ format: version, ...(toKeyData(inputs) as Record<string, unknown>) });
}

function toKeyData(value: unknown): unknown {
  if (value instanceof Ref) return value.key;
  if (Array.isArray(value)) return value.map(toKeyData);
  if (value && typeof value === "object" && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toKeyData(v)]));
  }
  return value;
}

export class UndeclaredInput extends Error {
  constructor(step: string, name: string) {
    super(`step ${step} read the input "${name}", which it did not declare`);
  }
}

/**
 * The inputs as the step sees them: reading a top-level name that was not declared throws.
 * (Symbols and the few names JavaScript itself probes, such as `then`, pass.)
 */
export function guardInputs<I extends Inputs>(step: string, inputs: I): Readonly<I> {
  return new Proxy(inputs, {
    get(target, name, receiver) {
      if (typeof name === "string" && !(name in target) && !PROBED.has(name)) {
        throw new UndeclaredInput(step, name);
      }
      return Reflect.get(target, name, receiver);
    },
    set(_target, name) {
      throw new Error(`step ${step} tried to change its input "${String(name)}"`);
    },
  });
}

const PROBED = new Set(["then", "toJSON", "constructor", "inspect", "asymmetricMatch"]);

/**
 * Words a step only prints (a package's name and version in a progress line). They do not shape
 * the output, so they are not part of the key.
 */
export function label(text: string): Ref<string> {
  return new Ref(text, undefined);
}
