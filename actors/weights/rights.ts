/**
 * NATS subject rights for using the weights: the blob store, the data plane's control records (KV) and its retire
 * announcements. `coop creds` (coordinator/creds.ts) grants them per role, actor hosts get them in their minted
 * per-actor credentials (actors/actor_creds.ts).
 */
import type { Subjects } from "../../shared/mod.ts";
import { manifestBucket, retireSubject } from "./plane.ts";

/**
 * JetStream API subjects for reading one stream: info, direct and stored message gets, ephemeral consumers (the
 * ordered consumers object and KV reads use) and their flow control. No publish to the stream's subjects, no
 * purge, message delete, durable consumer or stream change.
 */
export function streamRead(stream: string): string[] {
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
    `$JS.FC.${stream}.>`,
  ];
}

/**
 * JetStream API subjects for working with one stream's data: reading it, plus creating it, purging it, deleting
 * messages and pulling from durable consumers (no delete or update of the stream itself).
 */
export function streamUse(stream: string): string[] {
  return [
    ...streamRead(stream),
    `$JS.API.STREAM.CREATE.${stream}`,
    `$JS.API.STREAM.PURGE.${stream}`,
    `$JS.API.STREAM.MSG.DELETE.${stream}`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
    `$JS.ACK.${stream}.>`,
  ];
}

/** Reading weights: the blob store and the data plane's control records, without writing either. */
export function blobReadRights(names: Subjects): string[] {
  return [
    "$JS.API.INFO",
    ...streamRead(`OBJ_${names.blobBucket}`),
    ...streamRead(`KV_${manifestBucket(names.cluster)}`),
  ];
}

/** Weights: the blob store, the data plane's control records (KV) and its retire announcements. */
export function blobRights(names: Subjects): string[] {
  const manifests = manifestBucket(names.cluster);
  return [
    "$JS.API.INFO",
    `$O.${names.blobBucket}.>`,
    ...streamUse(`OBJ_${names.blobBucket}`),
    `$KV.${manifests}.>`,
    ...streamUse(`KV_${manifests}`),
    retireSubject(names.cluster),
  ];
}

/** What readers of weights subscribe to (KV watches and object reads deliver on these). */
export function blobSubscriptions(names: Subjects): string[] {
  return [`$O.${names.blobBucket}.>`, `$KV.${manifestBucket(names.cluster)}.>`, retireSubject(names.cluster)];
}
