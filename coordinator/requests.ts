/** Translations from Coop's records and messages to the registry's and the scheduler's shapes. */
import type { ActorRecord, NodeInfo, NodeRecord } from "../shared/mod.ts";
import type { Demand as SchedulerRequest, NodeSpec, PlaceOptions } from "./scheduler/mod.ts";

/** Coop resource requests (`{cpu, gpu, memoryMb, <custom>}`) in the scheduler's shape. */
export function toSchedulerResources(resources: Record<string, number | undefined>): SchedulerRequest {
  const { cpu, gpu, memoryMb, ...custom } = resources;
  const request: SchedulerRequest = {};
  if (cpu !== undefined) request.cpu = cpu;
  if (gpu !== undefined) request.gpu = gpu;
  if (memoryMb !== undefined) request.memoryMb = memoryMb;
  const named = Object.fromEntries(Object.entries(custom).filter(([, v]) => v !== undefined)) as Record<string, number>;
  if (Object.keys(named).length > 0) request.resources = named;
  return request;
}

/** An actor's request: its resources plus the node labels it needs. */
export function toSchedulerRequest(record: ActorRecord): SchedulerRequest {
  const request = toSchedulerResources(record.options.resources);
  if (record.options.labels) request.labels = record.options.labels;
  return request;
}

/** An actor's placement-group options for the scheduler. */
export function placeOptions(record: ActorRecord): PlaceOptions {
  const options: PlaceOptions = {};
  if (record.options.placementGroup) options.placementGroup = record.options.placementGroup;
  if (record.options.bundleIndex !== undefined && record.options.bundleIndex !== null) {
    options.bundleIndex = record.options.bundleIndex;
  }
  return options;
}

/** The record of a registering node; a re-registration of a live node keeps its join time. */
export function toNodeRecord(info: NodeInfo, known: NodeRecord | undefined, now: number): NodeRecord {
  return {
    id: info.id,
    hostname: info.hostname,
    cpus: info.cpus,
    gpuIds: info.gpuIds,
    memoryMb: info.memoryMb,
    custom: info.custom,
    labels: info.labels,
    state: "alive",
    lastHeartbeat: now,
    joinedAt: known?.state === "alive" ? known.joinedAt : now,
  };
}

/** A registering node's capacity in the scheduler's shape. */
export function toSchedulerNode(info: NodeInfo): Omit<NodeSpec, "id"> {
  return {
    cpu: info.cpus,
    gpus: info.gpuIds,
    memoryMb: info.memoryMb,
    resources: info.custom,
    labels: info.labels,
    alive: true,
  };
}
