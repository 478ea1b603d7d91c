/**
 * Attested weight versions: every sample says which policy version produced it and which RM version scored it,
 * with the digest of the weights each actor actually loaded (checked on load against the published digest). The
 * run keeps the digests it published; a sample whose digest does not match its claimed version's is not trained on.
 * That catches what version numbers alone cannot: an actor that loaded other bytes under the right version number
 * (a stale cache, a republished name, a corrupted copy that slipped past a lenient loader).
 */
import { AccountingError } from "./metrics.ts";

/** Raised for a malformed attestation record (not for a mismatch: those are counted and refused). */
export class AttestationError extends AccountingError {
  override name = "AttestationError";
}

/** What one sample claims. */
export interface SampleClaim {
  id: string;
  policyVersion: number;
  /** Digest of the policy weights that generated it ("" or missing = not reported). */
  policyDigest?: string;
  rmVersion: number;
  rmDigest?: string;
}

/** Counts for the run status. */
export interface AttestationSnapshot {
  checked: number;
  rejected: number;
  /** Samples whose version's digest the run did not know (e.g. published before a resume); trained unchecked. */
  unverified: number;
  /** The latest refusal, for the status page. */
  lastRejection?: string;
}

/** The digests a run published, per role and version, and the tally of checked samples. */
export class WeightAttestations {
  readonly #published = { policy: new Map<number, Set<string>>(), rm: new Map<number, Set<string>>() };
  #checked = 0;
  #rejected = 0;
  #unverified = 0;
  #last: string | undefined;

  /** Records the digests (one per published precision) of `role` version `version`. */
  published(role: "policy" | "rm", version: number, digests: readonly string[]): void {
    if (!Number.isInteger(version) || version < 0) throw new AttestationError(`Invalid ${role} version ${version}`);
    this.#published[role].set(version, new Set(digests));
  }

  /** Forgets versions below `version` (they are retired; no batch can claim them any more). */
  forget(role: "policy" | "rm", version: number): void {
    for (const v of this.#published[role].keys()) if (v < version) this.#published[role].delete(v);
  }

  /** The claims that do not match a published digest, each with the reason; counts every claim. */
  refuse(claims: readonly SampleClaim[]): { id: string; reason: string }[] {
    const out: { id: string; reason: string }[] = [];
    for (const claim of claims) {
      this.#checked++;
      const reasons = [
        this.#mismatch("policy", claim.policyVersion, claim.policyDigest),
        this.#mismatch("rm", claim.rmVersion, claim.rmDigest),
      ].filter((r): r is string => r !== undefined);
      if (reasons.includes("unknown")) this.#unverified++;
      const real = reasons.filter((r) => r !== "unknown");
      if (real.length > 0) {
        this.#rejected++;
        out.push({ id: claim.id, reason: real.join("; ") });
        this.#last = `${claim.id}: ${real.join("; ")}`;
      }
    }
    return out;
  }

  #mismatch(role: "policy" | "rm", version: number, digest: string | undefined): string | undefined {
    const known = this.#published[role].get(version);
    if (known === undefined) return "unknown";
    if (digest !== undefined && known.has(digest)) return undefined;
    const expected = [...known].map((d) => d.slice(0, 12)).join(" or ");
    return `${role} v${version} digest ${digest ? digest.slice(0, 12) : "(none)"} is not the published ${expected}`;
  }

  /** Current counts. */
  snapshot(): AttestationSnapshot {
    return {
      checked: this.#checked,
      rejected: this.#rejected,
      unverified: this.#unverified,
      ...(this.#last === undefined ? {} : { lastRejection: this.#last }),
    };
  }
}
