/**
 * Resource arithmetic behind the scheduler: fixed-point quantities, pools of free resources (a node or a
 * placement-group bundle), allocation with GPU device ids, node ordering, and the sentences that explain why a
 * request does not fit. Pure functions; the `Scheduler` class in `scheduler.ts` owns the state.
 */

import { PlacementError } from "../../shared/mod.ts";
import type { Allocation, Demand, NodeSpec, NodeUsage, Quantities } from "./types.ts";

/**
 * Fixed-point scale for fractional resources: Ray keeps resources as integers in units of 1/10000 so that
 * `0.1 + 0.2` CPUs add up exactly; we do the same.
 */
export const SCALE = 10_000;

/** Names that `resources` may not use, because they are first-class fields. */
export const RESERVED_RESOURCE_NAMES: ReadonlySet<string> = new Set(["cpu", "gpu", "memoryMb"]);

/** What a request needs, in fixed-point units. `gpu` below SCALE means a fraction of one device. */
export interface NeedUnits {
  quantities: Quantities;
  gpu: number;
  labels: Record<string, string>;
}

/** Free resources that requests are carved from: a node, or a bundle reserved on a node. */
export interface Pool {
  free: Quantities;
  /** Free units per GPU device id (SCALE = the whole device). */
  gpuFree: Map<number, number>;
}

/** Converts a user quantity to fixed-point units. */
export function toUnits(value: number): number {
  return Math.round(value * SCALE);
}

/** Converts fixed-point units back to a user quantity. */
export function fromUnits(units: number): number {
  return units / SCALE;
}

/** Makes an independent copy of a pool for trial allocations. */
export function clonePool(pool: Pool): Pool {
  return { free: { ...pool.free }, gpuFree: new Map(pool.gpuFree) };
}

/** Returns a pool's GPU ids sorted ascending (deterministic iteration). */
function sortedDevices(pool: Pool): number[] {
  return [...pool.gpuFree.keys()].sort((a, b) => a - b);
}

/** Chooses GPU devices for `units`, or null when the pool cannot provide them. */
function chooseGpus(pool: Pool, units: number): Array<[number, number]> | null {
  if (units <= 0) return [];
  const devices = sortedDevices(pool);
  if (units < SCALE) {
    // Fractions share one device; best fit (least free that still fits) packs fractional users together and
    // keeps whole devices free for whole-GPU requests, as Ray does.
    let best: number | undefined;
    for (const id of devices) {
      const free = pool.gpuFree.get(id)!;
      if (free >= units && (best === undefined || free < pool.gpuFree.get(best)!)) best = id;
    }
    return best === undefined ? null : [[best, units]];
  }
  const whole = devices.filter((id) => pool.gpuFree.get(id)! >= SCALE);
  const count = units / SCALE;
  if (whole.length < count) return null;
  return whole.slice(0, count).map((id) => [id, SCALE]);
}

/** Carves `need` out of `pool` (mutating it) and returns the allocation, or null without changing the pool. */
export function allocate(pool: Pool, need: NeedUnits): Allocation | null {
  for (const [name, units] of Object.entries(need.quantities)) {
    if (units > 0 && (pool.free[name] ?? 0) < units) return null;
  }
  const gpus = chooseGpus(pool, need.gpu);
  if (gpus === null) return null;
  const quantities: Quantities = {};
  for (const [name, units] of Object.entries(need.quantities)) {
    if (units <= 0) continue;
    pool.free[name] = (pool.free[name] ?? 0) - units;
    quantities[name] = units;
  }
  for (const [id, units] of gpus) pool.gpuFree.set(id, pool.gpuFree.get(id)! - units);
  return { quantities, gpus };
}

/** Returns an allocation to its pool. Devices the pool no longer has (node shrank) are skipped. */
export function giveBack(pool: Pool, allocation: Allocation): void {
  for (const [name, units] of Object.entries(allocation.quantities)) pool.free[name] = (pool.free[name] ?? 0) + units;
  for (const [id, units] of allocation.gpus) {
    const free = pool.gpuFree.get(id);
    if (free !== undefined) pool.gpuFree.set(id, free + units);
  }
}

/** A pool made of exactly what an allocation holds (a bundle's reservation). */
export function poolOf(allocation: Allocation): Pool {
  return { free: { ...allocation.quantities }, gpuFree: new Map(allocation.gpus) };
}

/** Sums requests (STRICT_PACK needs them all on one node). GPU fractions add up as whole-device demand. */
export function sumNeeds(needs: NeedUnits[]): NeedUnits {
  const quantities: Quantities = {};
  const labels: Record<string, string> = {};
  let gpu = 0;
  for (const need of needs) {
    for (const [name, units] of Object.entries(need.quantities)) quantities[name] = (quantities[name] ?? 0) + units;
    Object.assign(labels, need.labels);
    gpu += need.gpu;
  }
  return { quantities, gpu: gpu > SCALE ? Math.ceil(gpu / SCALE) * SCALE : gpu, labels };
}

/** True when every requested label is present with the same value. */
export function labelsMatch(nodeLabels: Record<string, string>, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([key, value]) => nodeLabels[key] === value);
}

/**
 * Critical-resource utilization: the highest used/total fraction over the node's resources (Ray's hybrid policy
 * scores nodes the same way). One saturated dimension makes a node "full" even if others are idle.
 */
export function utilization(total: Pool, free: Pool): number {
  let worst = 0;
  for (const [name, capacity] of Object.entries(total.free)) {
    if (capacity > 0) worst = Math.max(worst, (capacity - (free.free[name] ?? 0)) / capacity);
  }
  const gpuTotal = total.gpuFree.size * SCALE;
  if (gpuTotal > 0) {
    let gpuFree = 0;
    for (const units of free.gpuFree.values()) gpuFree += units;
    worst = Math.max(worst, (gpuTotal - gpuFree) / gpuTotal);
  }
  return worst;
}

/** A place a request could go, described for ordering and for reasons. */
export interface Candidate {
  /** How reasons name it: `node "a"` or `bundle 1 of placement group "pg"`. */
  label: string;
  id: string;
  total: Pool;
  free: Pool;
  labels: Record<string, string>;
  actorCount: number;
}

/**
 * Orders candidates best-first for a request. Least-loaded first: actors are long-lived and CPU-hungry on a
 * machine shared by everything, so spreading them avoids contention, and a node's headroom stays usable for the
 * actor's own bursts (threads, memory). Requests that need no GPU go to GPU-less nodes first so GPU nodes stay
 * available for GPU work (Ray's hybrid policy does the same). Ties break on actor count, then id, so placement is
 * deterministic.
 */
export function orderCandidates(candidates: Candidate[], need: NeedUnits): Candidate[] {
  const keyed = candidates.map((c) => keyOf(c, need));
  keyed.sort(compareKeys);
  return keyed.map((k) => k.c);
}

/** The first of {@link orderCandidates} in one pass (placing one actor need not sort a thousand nodes). */
export function bestCandidate(candidates: Candidate[], need: NeedUnits): Candidate | undefined {
  let best: CandidateKey | undefined;
  for (const c of candidates) {
    const key = keyOf(c, need);
    if (best === undefined || compareKeys(key, best) < 0) best = key;
  }
  return best?.c;
}

interface CandidateKey {
  c: Candidate;
  gpuPenalty: number;
  load: number;
}

function keyOf(c: Candidate, need: NeedUnits): CandidateKey {
  return { c, gpuPenalty: need.gpu === 0 && c.total.gpuFree.size > 0 ? 1 : 0, load: utilization(c.total, c.free) };
}

function compareKeys(a: CandidateKey, b: CandidateKey): number {
  return a.gpuPenalty - b.gpuPenalty || a.load - b.load || a.c.actorCount - b.c.actorCount ||
    (a.c.id < b.c.id ? -1 : a.c.id > b.c.id ? 1 : 0);
}

function formatNumber(units: number): string {
  return String(Math.round(fromUnits(units) * 10_000) / 10_000);
}

/** Human phrase for an amount of one resource: "2 CPUs", "1 GPU", "512 MB of memory", `3 of resource "tpu"`. */
export function describeAmount(name: string, units: number): string {
  const n = formatNumber(units);
  if (name === "cpu") return `${n} ${units === SCALE ? "CPU" : "CPUs"}`;
  if (name === "gpu") return `${n} ${units === SCALE ? "GPU" : "GPUs"}`;
  if (name === "memoryMb") return `${n} MB of memory`;
  return `${n} of resource "${name}"`;
}

function describeFree(name: string, units: number): string {
  const phrase = describeAmount(name, units);
  const space = phrase.indexOf(" ");
  return `${phrase.slice(0, space)} free${phrase.slice(space)}`;
}

/** Amount of one dimension a pool offers for a request of `wanted` units ("gpu" counts usable devices). */
function amountOf(pool: Pool, name: string, wanted: number): number {
  if (name !== "gpu") return pool.free[name] ?? 0;
  if (wanted < SCALE) return Math.max(0, ...pool.gpuFree.values());
  let whole = 0;
  for (const units of pool.gpuFree.values()) if (units >= SCALE) whole += SCALE;
  return whole;
}

function dimensions(need: NeedUnits): Array<[string, number]> {
  const dims = Object.entries(need.quantities).filter(([, units]) => units > 0);
  if (need.gpu > 0) dims.push(["gpu", need.gpu]);
  return dims;
}

function fits(pool: Pool, need: NeedUnits): boolean {
  return dimensions(need).every(([name, units]) => amountOf(pool, name, units) >= units);
}

/** Options for {@link explainNoFit}. */
export interface ExplainOptions {
  /** Subject of the sentence: "node" or `bundle of placement group "pg"`. */
  noun: string;
  /** Whether more candidates can appear (nodes can join; a group's bundles are fixed). */
  canGrow: boolean;
}

/**
 * Explains in one sentence why no candidate can take `need`, naming the closest candidate. Distinguishes
 * "infeasible" (no total is big enough) from "busy" (free resources are short), as Ray's pending reasons do.
 */
export function explainNoFit(candidates: Candidate[], need: NeedUnits, options: ExplainOptions): string {
  const { noun, canGrow } = options;
  const waitJoin = canGrow ? `; waiting for a fitting ${noun.split(" ")[0]} to join` : "; it can never fit";
  const waitFree = canGrow
    ? "; waiting for resources to free up or a fitting node to join"
    : "; waiting for resources to free up";
  if (candidates.length === 0) return `No alive ${noun} is available${canGrow ? "; waiting for a node to join" : ""}`;
  const labelled = candidates.filter((c) => labelsMatch(c.labels, need.labels));
  if (labelled.length === 0) {
    const wanted = Object.entries(need.labels).map(([k, v]) => `${k}=${v}`).join(", ");
    return `No alive ${noun} has labels ${wanted}${waitJoin}`;
  }
  const dims = dimensions(need);
  const closest = (name: string, units: number, side: "total" | "free") => {
    let best = labelled[0]!;
    for (const c of labelled) if (amountOf(c[side], name, units) > amountOf(best[side], name, units)) best = c;
    return { c: best, amount: amountOf(best[side], name, units) };
  };
  for (const [name, units] of dims) {
    const { c, amount } = closest(name, units, "total");
    if (amount < units) {
      return `No ${noun} has ${describeAmount(name, units)} in total (largest: ${c.label} with ${
        formatNumber(amount)
      })${waitJoin}`;
    }
  }
  const all = dims.map(([name, units]) => describeAmount(name, units)).join(", ");
  if (!labelled.some((c) => fits(c.total, need))) return `No single ${noun} has ${all} in total${waitJoin}`;
  for (const [name, units] of dims) {
    const { c, amount } = closest(name, units, "free");
    if (amount < units) {
      return `No ${noun} has ${describeFree(name, units)} (largest free: ${c.label} with ${
        formatNumber(amount)
      })${waitFree}`;
    }
  }
  return `No single ${noun} has ${all} free at once${waitFree}`;
}

/** Returns whether a candidate can take `need` right now (labels and free resources). */
export function canTake(candidate: Candidate, need: NeedUnits): boolean {
  return labelsMatch(candidate.labels, need.labels) && fits(candidate.free, need);
}

function checkQuantity(owner: string, field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new PlacementError(`${owner}: ${field} must be a finite number >= 0, got ${describeValue(value)}`);
  }
  return value;
}

function describeValue(value: unknown): string {
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) {
    return String(value);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Validates a resources record (names and amounts) and converts it to units. */
export function checkResources(owner: string, field: string, value: unknown): Quantities {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PlacementError(`${owner}: ${field} must be an object of name -> quantity, got ${describeValue(value)}`);
  }
  const out: Quantities = {};
  for (const [name, amount] of Object.entries(value)) {
    if (name === "" || RESERVED_RESOURCE_NAMES.has(name)) {
      throw new PlacementError(
        `${owner}: ${field} may not use the name "${name}"; use the cpu, gpu and memoryMb fields instead`,
      );
    }
    out[name] = toUnits(checkQuantity(owner, `${field}.${name}`, amount));
  }
  return out;
}

/** Validates a labels record. */
export function checkLabels(owner: string, field: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PlacementError(`${owner}: ${field} must be an object of key -> string, got ${describeValue(value)}`);
  }
  for (const [key, label] of Object.entries(value)) {
    if (typeof label !== "string") {
      throw new PlacementError(`${owner}: ${field}.${key} must be a string, got ${describeValue(label)}`);
    }
  }
  return { ...(value as Record<string, string>) };
}

/** Validates a scalar quantity field that may be absent (absent = 0). */
export function checkOptionalQuantity(owner: string, field: string, value: unknown): number {
  return value === undefined ? 0 : checkQuantity(owner, field, value);
}

/** Validates a GPU count: fractions below 1 share a device; 1 and above must be whole (Ray's rule). */
export function checkGpuCount(owner: string, value: unknown): number {
  const gpu = checkOptionalQuantity(owner, "gpu", value);
  if (gpu > 1 && !Number.isInteger(gpu)) {
    throw new PlacementError(`${owner}: gpu must be a whole number when above 1, got ${gpu}`);
  }
  return toUnits(gpu);
}

/** Validates a node's GPU device id list. */
export function checkGpuIds(owner: string, value: unknown): number[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new PlacementError(`${owner}: gpus must be a list of device ids, got ${value}`);
  const seen = new Set<number>();
  for (const id of value) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
      throw new PlacementError(`${owner}: gpus must hold integer device ids >= 0, got ${describeValue(id)}`);
    }
    if (seen.has(id)) throw new PlacementError(`${owner}: gpus lists device ${id} twice`);
    seen.add(id);
  }
  return [...seen].sort((a, b) => a - b);
}

/** Validates a node spec and fills defaults; throws PlacementError naming the field. */
export function normalizeNode(spec: NodeSpec): Required<NodeSpec> {
  if (typeof spec !== "object" || spec === null) throw new PlacementError(`Invalid node spec: expected an object`);
  if (typeof spec.id !== "string" || spec.id === "") {
    throw new PlacementError(`Invalid node spec: id must be a non-empty string, got ${String(spec.id)}`);
  }
  const owner = `Invalid node "${spec.id}"`;
  checkOptionalQuantity(owner, "cpu", spec.cpu);
  checkOptionalQuantity(owner, "memoryMb", spec.memoryMb);
  checkResources(owner, "resources", spec.resources);
  if (spec.alive !== undefined && typeof spec.alive !== "boolean") {
    throw new PlacementError(`${owner}: alive must be a boolean, got ${String(spec.alive)}`);
  }
  return {
    id: spec.id,
    cpu: spec.cpu ?? 0,
    gpus: checkGpuIds(owner, spec.gpus),
    memoryMb: spec.memoryMb ?? 0,
    resources: { ...spec.resources },
    labels: checkLabels(owner, "labels", spec.labels),
    alive: spec.alive ?? true,
  };
}

/** The full capacity of a node as a pool. */
export function nodePool(spec: Required<NodeSpec>): Pool {
  const free: Quantities = { cpu: toUnits(spec.cpu), memoryMb: toUnits(spec.memoryMb) };
  for (const [name, amount] of Object.entries(spec.resources)) free[name] = toUnits(amount);
  return { free, gpuFree: new Map(spec.gpus.map((id) => [id, SCALE])) };
}

/** Validates a resource request and converts it to units; throws PlacementError naming the field. */
export function normalizeRequest(owner: string, request: Demand): NeedUnits {
  if (typeof request !== "object" || request === null) {
    throw new PlacementError(`${owner}: expected an object, got ${String(request)}`);
  }
  const quantities: Quantities = checkResources(owner, "resources", request.resources);
  quantities.cpu = toUnits(checkOptionalQuantity(owner, "cpu", request.cpu));
  quantities.memoryMb = toUnits(checkOptionalQuantity(owner, "memoryMb", request.memoryMb));
  return { quantities, gpu: checkGpuCount(owner, request.gpu), labels: checkLabels(owner, "labels", request.labels) };
}

/** Deep copy, so callers mutating their request object cannot change recorded state. */
export function copyRequest(request: Demand): Demand {
  return structuredClone(request);
}

/** A pool in user units (free whole GPUs listed by id). */
export function usageOf(pool: Pool): NodeUsage["total"] {
  const resources: Record<string, number> = {};
  for (const [name, units] of Object.entries(pool.free)) {
    if (name !== "cpu" && name !== "memoryMb") resources[name] = fromUnits(units);
  }
  return {
    cpu: fromUnits(pool.free.cpu ?? 0),
    memoryMb: fromUnits(pool.free.memoryMb ?? 0),
    // Only whole free devices are listed; a device partly used by fractional actors is not "free".
    gpus: [...pool.gpuFree].filter(([, units]) => units >= SCALE).map(([id]) => id).sort((a, b) => a - b),
    resources,
  };
}

/** Subtracts an allocation from a pool (GPUs the pool does not have are skipped). */
export function takeAllocation(pool: Pool, allocation: Allocation): void {
  for (const [name, units] of Object.entries(allocation.quantities)) pool.free[name] = (pool.free[name] ?? 0) - units;
  for (const [id, units] of allocation.gpus) {
    const left = pool.gpuFree.get(id);
    if (left !== undefined) pool.gpuFree.set(id, left - units);
  }
}
