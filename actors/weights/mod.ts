/** The weight data plane: shared-memory segments on a host, a direct HTTP plane between hosts, digests. */
export { weightsBlobName } from "./blob_name.ts";
export { DIGEST_CHUNK_BYTES, digestBytes, digestTensors, type WeightDigest } from "./digest.ts";
export { SegmentSpaceError, WeightDigestError, WeightPlaneError } from "./errors.ts";
export { planeFromEnv, WEIGHTS_ENV } from "./env.ts";
export {
  defaultWeightsDir,
  type LoadedVia,
  type LoadedWeights,
  manifestBucket,
  publishedDigests,
  type PublishedVariant,
  retireWeights,
  type WeightManifest,
  WeightPlane,
  type WeightPlaneOptions,
} from "./plane.ts";
export type { WeightDtype } from "./segment.ts";
export { startWeightService, type WeightService, type WeightServiceOptions } from "./service.ts";
export { retireSubject } from "./plane.ts";
export { blobReadRights, blobRights, blobSubscriptions, streamRead, streamUse } from "./rights.ts";
