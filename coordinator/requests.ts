/** Translations from Coop's records to the scheduler's request shapes. */
import type { ActorRecord } from "../shared/protocol.ts";
import type { ResourceRequest as SchedulerRequest } from "./scheduler_types.ts";

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
export function placeOptions(record: ActorRecord): { placementGroup?: string; bundleIndex?: number } {
  const options: { placementGroup?: string; bundleIndex?: number } = {};
  if (record.options.placementGroup) options.placementGroup = record.options.placementGroup;
  if (record.options.bundleIndex !== undefined && record.options.bundleIndex !== null) {
    options.bundleIndex = record.options.bundleIndex;
  }
  return options;
}
