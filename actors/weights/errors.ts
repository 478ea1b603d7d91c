/** Errors of the weight data plane. */
import { CoopError } from "../../shared/mod.ts";

/** A weight version could not be published or loaded (bad name, no space, unreachable source, digest mismatch). */
export class WeightPlaneError extends CoopError {
  override name = "WeightPlaneError";
}

/** The segment directory is full (its byte cap, or the filesystem itself, e.g. a full /dev/shm). */
export class SegmentSpaceError extends WeightPlaneError {
  override name = "SegmentSpaceError";
}

/** Bytes did not hash to the digest their version was published with. */
export class WeightDigestError extends WeightPlaneError {
  override name = "WeightDigestError";
}
