/**
 * The Object Store name of version `version` of the weights published under `prefix` (e.g. `run-1.policy`): the one
 * spelling the learner that publishes, the actors that load and the driver that retires a version must all agree on.
 */
export function weightsBlobName(prefix: string, version: number): string {
  return `${prefix}.v${version}`;
}
