/**
 * Per-actor NATS credentials (decentralized JWT auth): the agent holds an account signing key and, for every actor
 * it starts, mints a user JWT with only what that actor host needs:
 * - serve its own actor's calls (every incarnation) and answer them (`resp`), report its own lifecycle;
 * - look actors up (`lookup`, read-only) and call the actors it was spawned with grants to (`calls`: the handles
 *   it is given, e.g. the negative synthesizer's assistant), following their lifecycle events;
 * - receive replies on an inbox prefix of its own (`_INBOX_<cluster>.<actor>`, nats.js `inboxPrefix`), so it
 *   cannot subscribe to anyone else's replies;
 * - read the blob bucket and the weight records; write them only with the `blobWrite` grant (learners).
 * It cannot spawn, kill or list (the coordinator subject), subscribe to another actor's calls, speak for a node
 * (register, heartbeat, other actors' reports, logs), take agent orders or send admin requests. The server checks
 * the JWT against the account (operator mode); `coop creds --jwt` generates the operator, the account and its
 * signing key.
 *
 * What NATS cannot express (subject rights only, nothing about payloads or object names):
 * - Reads are all or nothing per bucket: an object is read through a consumer on the bucket's stream whose filter
 *   subject is in the request body (and its chunks live under a random `$O.<bucket>.C.<nuid>`), so an actor that
 *   may read one blob may read every blob of the bucket. Likewise the weight records.
 * - Writes: chunk subjects are random, so a writer cannot be held to its own objects' names; with `blobWrite` an
 *   actor may write, overwrite and delete any blob of the bucket. Without it, it publishes nothing there.
 * - Consumers: reading creates ephemeral consumers on the bucket's stream (`CONSUMER.CREATE.<stream>.>`), and the
 *   server cannot tell an ephemeral create from a named one in the 2.10 API, so a reader could leave named
 *   consumers behind (resource use, not data).
 * - Replies to other inboxes: large messages flow through the receiver's private inbox (shared/chunking.ts), so a
 *   host may publish to `_INBOX.>` and `_INBOX_<cluster>.>` — it cannot read them, and their names are random.
 * - Lifecycle events: the client library listens to all of its cluster's (`life.>`): it can read every actor's
 *   state events (ids, states, nodes), not act on them.
 *
 * A signing key can mint any user of its account, so it is a secret of the agent (mode 0600) and never reaches
 * an actor host; a host gets its own creds file, valid for `ttlSeconds`.
 */
import { decode, encodeUser, fmtCreds } from "@nats-io/jwt";
import { nkeys } from "@nats-io/transport-node";
import { ConfigError } from "../shared/mod.ts";
import { checkToken, type Subjects } from "../shared/mod.ts";
import { blobReadRights, blobRights } from "./weights/mod.ts";

/** What an actor host may publish and subscribe to. */
export interface ActorRights {
  pub: string[];
  sub: string[];
}

/** What the actor was spawned with (its record's options): the actors it may call, whether it writes blobs. */
export interface ActorGrants {
  calls?: readonly string[];
  blobWrite?: boolean;
}

/** The reply inbox prefix of actor `actorId`'s host (nats.js `inboxPrefix`; the host subscribes below it). */
export function actorInboxPrefix(names: Subjects, actorId: string): string {
  return `_INBOX_${names.cluster}.${checkToken("actor id", actorId)}`;
}

/** The rights of the host of actor `actorId` on node `nodeId`. */
export function actorRights(names: Subjects, actorId: string, nodeId: string, grants: ActorGrants = {}): ActorRights {
  checkToken("actor id", actorId);
  checkToken("node id", nodeId);
  const root = `coop.${names.cluster}`;
  const calls = [...new Set(grants.calls ?? [])].map((id) => `${root}.actor.${checkToken("actor id", id)}.*`);
  const blobs = grants.blobWrite ? blobRights(names) : blobReadRights(names);
  return {
    // Chunked transfers publish into the other side's private inbox (see above): publish, never subscribe.
    pub: [names.report(actorId, nodeId), names.lookup, ...calls, ...blobs, "_INBOX.>", `_INBOX_${names.cluster}.>`],
    // Its own calls (every incarnation of this actor id), lifecycle events for its handles, its own replies.
    sub: [`${root}.actor.${actorId}.*`, names.lifecycleAll, `${actorInboxPrefix(names, actorId)}.>`],
  };
}

/** The account key an agent mints with. */
export interface AccountSigner {
  /** The account's public key (`A...`): the `issuer_account` of minted users. */
  account: string;
  /** A signing key of that account (seed `SA...`). */
  signingSeed: string;
}

/**
 * Reads an {@link AccountSigner} from `COOP_NATS_ACCOUNT_SIGNING_SEED_FILE` and the account key, from
 * `COOP_NATS_ACCOUNT` or else from the agent's own creds file (`COOP_NATS_CREDS`: a user JWT of that account names
 * it as its issuer account); undefined when neither variable is set.
 */
export function accountSignerFromEnv(env: Record<string, string | undefined>): AccountSigner | undefined {
  const file = env.COOP_NATS_ACCOUNT_SIGNING_SEED_FILE;
  if (env.COOP_NATS_ACCOUNT === undefined && file === undefined) return undefined;
  if (file === undefined) {
    throw new ConfigError("Per-actor credentials need COOP_NATS_ACCOUNT_SIGNING_SEED_FILE (the account signing key)");
  }
  const account = env.COOP_NATS_ACCOUNT ?? accountOfCreds(env.COOP_NATS_CREDS);
  if (!account.startsWith("A")) {
    throw new ConfigError(`Invalid COOP_NATS_ACCOUNT "${account}": expected an account key`);
  }
  const signingSeed = Deno.readTextFileSync(file).trim();
  if (!signingSeed.startsWith("SA")) {
    throw new ConfigError(`Invalid COOP_NATS_ACCOUNT_SIGNING_SEED_FILE: ${file} does not hold an account seed`);
  }
  return { account, signingSeed };
}

/** The account of the user JWT in creds file `path`. */
function accountOfCreds(path: string | undefined): string {
  if (path === undefined) {
    throw new ConfigError("Per-actor credentials need COOP_NATS_ACCOUNT, or COOP_NATS_CREDS naming the agent's creds");
  }
  const text = Deno.readTextFileSync(path);
  const jwt = /BEGIN NATS USER JWT-----\s*(\S+?)\s*------END NATS USER JWT/.exec(text)?.[1];
  let claims: { iss?: string; nats?: { issuer_account?: string } } | undefined;
  try {
    claims = jwt === undefined ? undefined : decode(jwt);
  } catch { /* reported below */ }
  const account = claims?.nats?.issuer_account ?? claims?.iss;
  if (account === undefined) {
    throw new ConfigError(`Cannot read the account from COOP_NATS_CREDS ${path}: no user JWT; set COOP_NATS_ACCOUNT`);
  }
  return account;
}

/** Options for {@link mintActorCreds}. */
export interface MintOptions {
  names: Subjects;
  actorId: string;
  nodeId: string;
  signer: AccountSigner;
  /** What the actor was spawned with (record options `calls`, `blobWrite`). */
  grants?: ActorGrants;
  /** Validity (s). Default one week: a long-lived actor reconnects with the same file. */
  ttlSeconds?: number;
}

/** A creds file (user JWT and its seed) for one actor host. */
export async function mintActorCreds(options: MintOptions): Promise<Uint8Array> {
  const { names, actorId, nodeId, signer } = options;
  const rights = actorRights(names, actorId, nodeId, options.grants);
  const user = nkeys.createUser();
  const issuer = nkeys.fromSeed(new TextEncoder().encode(signer.signingSeed));
  const jwt = await encodeUser(`${names.cluster}-${actorId}`, user, issuer, {
    issuer_account: signer.account,
    pub: { allow: rights.pub },
    sub: { allow: rights.sub },
    resp: { max: 1, ttl: 0 },
  }, { exp: Math.floor(Date.now() / 1000) + (options.ttlSeconds ?? 7 * 24 * 3600) });
  return fmtCreds(jwt, user);
}
