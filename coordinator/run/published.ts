/**
 * The weight versions a run publishes: each goes up under its blob name, its digests are remembered so samples can
 * be checked against them (rl/attestation.ts), and the version that fell out of the window is retired — no launched
 * batch can still ask for it.
 */
import type { Cluster } from "../../actors/mod.ts";
import { publishedDigests, retireWeights, weightsBlobName } from "../../actors/weights/mod.ts";
import type { WeightAttestations } from "../../rl/mod.ts";

/** A run's published policy and RM versions. */
export class PublishedWeights {
  readonly #cluster: Cluster;
  readonly #attestations: WeightAttestations;
  readonly #window: number;

  /** `window`: how many versions behind the newest a launched batch may still fetch. */
  constructor(cluster: Cluster, attestations: WeightAttestations, window: number) {
    this.#cluster = cluster;
    this.#attestations = attestations;
    this.#window = window;
  }

  /** Publishes version `version` of `prefix` through `upload` (given the blob name); returns what `upload` did. */
  async publish<T>(
    role: "policy" | "rm",
    prefix: string,
    version: number,
    upload: (name: string) => Promise<T>,
  ): Promise<T> {
    const result = await upload(weightsBlobName(prefix, version));
    await this.#recordDigests(role, prefix, version);
    const old = version - this.#window;
    if (old >= 0) await this.#retire(weightsBlobName(prefix, old));
    return result;
  }

  /**
   * Records the digest of a version that is not published (a colocated role reads its learner's live weights):
   * samples are checked against it as against a published one.
   */
  recordLive(role: "policy" | "rm", version: number, digest: string): void {
    this.#attestations.published(role, version, [digest]);
    this.#attestations.forget(role, version - this.#window);
  }

  /** Retires the versions of `prefix` still in the window below `version` (and it): what a finished run left. */
  async retireRecent(prefix: string, version: number): Promise<void> {
    for (let v = Math.max(0, version - this.#window); v <= version; v++) {
      await this.#retire(weightsBlobName(prefix, v));
    }
  }

  /** Remembers the digests a version was published with, so samples can be checked against them. */
  async #recordDigests(role: "policy" | "rm", prefix: string, version: number): Promise<void> {
    const cluster = this.#cluster;
    this.#attestations.published(
      role,
      version,
      await publishedDigests(cluster.transport, cluster.subjects.cluster, weightsBlobName(prefix, version)),
    );
    this.#attestations.forget(role, version - this.#window);
  }

  /** Drops a weight version everywhere: Object Store copy, data-plane record, shared-memory segments. */
  async #retire(name: string): Promise<void> {
    await retireWeights(this.#cluster.transport, this.#cluster.subjects.cluster, name).catch(() => {});
  }
}
