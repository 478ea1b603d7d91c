/**
 * Per-actor NATS credentials (decentralized JWT auth): the agent holds an account signing key and, for every actor
 * it starts, mints a user JWT that lets that host serve only its own actor's calls, report only its own lifecycle,
 * and reach the blob store, the coordinator's client API and other actors as a client does. It cannot subscribe to
 * another actor's calls, speak for a node (register, heartbeat, other actors' reports, logs), take agent orders or
 * send admin requests. The server checks the JWT against the account (operator mode, e.g. `resolver: MEMORY`);
 * `coop creds --jwt` generates the operator, the account and its signing key.
 *
 * A signing key can mint any user of its account, so it is a secret of the agent (mode 0600) and never reaches
 * an actor host; a host gets its own creds file, valid for `ttlSeconds`.
 */
import { encodeUser, fmtCreds } from "@nats-io/jwt";
import { nkeys } from "@nats-io/transport-node";
import { ConfigError } from "../shared/mod.ts";
import { checkToken, type Subjects } from "../shared/mod.ts";
import { blobRights, blobSubscriptions } from "./weights/mod.ts";

/** What an actor host may publish and subscribe to. */
export interface ActorRights {
  pub: string[];
  sub: string[];
}

const INBOX = "_INBOX.>";

/** The rights of the host of actor `actorId` on node `nodeId`. */
export function actorRights(names: Subjects, actorId: string, nodeId: string): ActorRights {
  checkToken("actor id", actorId);
  checkToken("node id", nodeId);
  const root = `coop.${names.cluster}`;
  return {
    // Its own reports; the client side (coordinator requests, calls to other actors, blobs); reply inboxes.
    pub: [names.report(actorId, nodeId), names.coordinator, `${root}.actor.>`, ...blobRights(names), INBOX],
    // Its own calls (every incarnation of this actor id), lifecycle events for its handles, blobs, replies.
    sub: [`${root}.actor.${actorId}.*`, names.lifecycleAll, ...blobSubscriptions(names), INBOX],
  };
}

/** The account key an agent mints with. */
export interface AccountSigner {
  /** The account's public key (`A...`): the `issuer_account` of minted users. */
  account: string;
  /** A signing key of that account (seed `SA...`). */
  signingSeed: string;
}

/** Reads an {@link AccountSigner} from `COOP_NATS_ACCOUNT` and `COOP_NATS_ACCOUNT_SIGNING_SEED_FILE`; undefined when unset. */
export function accountSignerFromEnv(env: Record<string, string | undefined>): AccountSigner | undefined {
  const account = env.COOP_NATS_ACCOUNT;
  const file = env.COOP_NATS_ACCOUNT_SIGNING_SEED_FILE;
  if (account === undefined && file === undefined) return undefined;
  if (account === undefined || file === undefined) {
    throw new ConfigError("Per-actor credentials need both COOP_NATS_ACCOUNT and COOP_NATS_ACCOUNT_SIGNING_SEED_FILE");
  }
  if (!account.startsWith("A")) {
    throw new ConfigError(`Invalid COOP_NATS_ACCOUNT "${account}": expected an account key`);
  }
  const signingSeed = Deno.readTextFileSync(file).trim();
  if (!signingSeed.startsWith("SA")) {
    throw new ConfigError(`Invalid COOP_NATS_ACCOUNT_SIGNING_SEED_FILE: ${file} does not hold an account seed`);
  }
  return { account, signingSeed };
}

/** Options for {@link mintActorCreds}. */
export interface MintOptions {
  names: Subjects;
  actorId: string;
  nodeId: string;
  signer: AccountSigner;
  /** Validity (s). Default one week: a long-lived actor reconnects with the same file. */
  ttlSeconds?: number;
}

/** A creds file (user JWT and its seed) for one actor host. */
export async function mintActorCreds(options: MintOptions): Promise<Uint8Array> {
  const { names, actorId, nodeId, signer } = options;
  const rights = actorRights(names, actorId, nodeId);
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
