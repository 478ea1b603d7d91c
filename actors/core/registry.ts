/**
 * The registry of actor classes a process knows, by name. An actor host only instantiates classes registered
 * here, and only calls methods the class defines: a message picks a name from this table and can never name code
 * to import. Which modules fill the table is the agent's own configuration (`--registry`), never a message.
 */
import type { z } from "zod";
import { ConfigError, UnknownActorClassError, UnknownMethodError } from "../../shared/mod.ts";

// deno-lint-ignore no-explicit-any
type AnyConstructor = new (...args: any[]) => any;

/** Per-method options: `idempotent` methods may be retried; `args` validates the argument tuple. */
export interface MethodSpec {
  idempotent?: boolean;
  /** A zod schema for the argument array, e.g. `z.tuple([z.number()])`; failures raise `BadArgumentsError`. */
  args?: z.ZodType;
}

/** Options for {@link registerActor}. */
export interface RegisterOptions<C extends AnyConstructor = AnyConstructor> {
  /** Registered name; defaults to the class name. */
  name?: string;
  methods?: { [K in keyof InstanceType<C>]?: MethodSpec };
}

/** A registered class and its specs. */
export interface RegisteredActor {
  name: string;
  cls: AnyConstructor;
  methods: Record<string, MethodSpec>;
}

const BY_NAME = new Map<string, RegisteredActor>();
const BY_CLASS = new Map<AnyConstructor, RegisteredActor>();

// Methods every object has, or that the runtime calls itself: never callable through a message.
const RESERVED = new Set(["constructor", "restore", "then", "toString", "valueOf", "toJSON"]);

/** Registers an actor class by name (idempotent for the same class; a different class under a taken name throws). */
export function registerActor<C extends AnyConstructor>(cls: C, options: RegisterOptions<C> = {}): C {
  const name = options.name ?? cls.name;
  if (!name) throw new ConfigError("Cannot register an anonymous actor class: pass { name }");
  const existing = BY_NAME.get(name);
  if (existing !== undefined && existing.cls !== cls) {
    throw new ConfigError(`Cannot register actor class "${name}": another class is registered under that name`);
  }
  const entry: RegisteredActor = { name, cls, methods: { ...(options.methods as Record<string, MethodSpec>) } };
  BY_NAME.set(name, entry);
  BY_CLASS.set(cls, entry);
  return cls;
}

/** The registration of a class, if any. */
export function registrationOf(cls: AnyConstructor): RegisteredActor | undefined {
  return BY_CLASS.get(cls);
}

/** Looks a class up by name; throws `UnknownActorClassError` naming the known classes otherwise. */
export function lookupActor(name: string): RegisteredActor {
  const entry = BY_NAME.get(name);
  if (entry === undefined) {
    const known = [...BY_NAME.keys()].sort().join(", ") || "none";
    throw new UnknownActorClassError(`Unknown actor class "${name}": registered classes are ${known}`);
  }
  return entry;
}

const LAZY: Array<() => Promise<unknown>> = [];

/**
 * Adds a registry module that is imported only when a class name is not found otherwise, so an actor host of a
 * light class does not load heavy ones (the role actors pull in the engine and onnxruntime: ~80 ms and ~45 MB per
 * process). The loader is code in this process, never something a message names.
 */
export function registerLazyModule(load: () => Promise<unknown>): void {
  LAZY.push(load);
}

/** Like {@link lookupActor}, but imports the lazy registry modules first when `name` is not registered yet. */
export async function resolveActor(name: string): Promise<RegisteredActor> {
  while (!BY_NAME.has(name) && LAZY.length > 0) await LAZY.shift()!();
  return lookupActor(name);
}

/** Names of all registered classes. */
export function registeredActorNames(): string[] {
  return [...BY_NAME.keys()].sort();
}

/**
 * Resolves a method on an instance: only functions the class (or a user superclass) defines, never `Object`'s,
 * never private-by-convention names (`_x`) or reserved ones.
 */
export function resolveMethod(
  entry: RegisteredActor,
  instance: object,
  method: string,
): (...args: unknown[]) => unknown {
  if (!RESERVED.has(method) && !method.startsWith("_")) {
    let proto = Object.getPrototypeOf(instance);
    while (proto !== null && proto !== Object.prototype) {
      if (Object.hasOwn(proto, method)) {
        const fn = proto[method];
        if (typeof fn === "function") return fn as (...args: unknown[]) => unknown;
        break;
      }
      proto = Object.getPrototypeOf(proto);
    }
  }
  throw new UnknownMethodError(`Unknown method "${method}" on actor class "${entry.name}"`);
}

/** Imports registry modules named in the process's own configuration (agent flags), never from a message. */
export async function loadRegistryModules(modules: readonly string[]): Promise<void> {
  for (const spec of modules) {
    const url = spec.includes("://") ? spec : new URL(spec, `file://${Deno.cwd()}/`).href;
    try {
      await import(url);
    } catch (error) {
      throw new ConfigError(`Cannot load actor registry module "${spec}": ${(error as Error).message}`);
    }
  }
}
