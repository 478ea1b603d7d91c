/**
 * `coop creds`: per-role NATS credentials for one or more clusters: an NKey per role (seed files, mode 0600) and a
 * nats-server `authorization` block granting each role only what it needs (include it from the server config).
 *
 * | role            | may                                                                                       |
 * | --------------- | ----------------------------------------------------------------------------------------- |
 * | coordinator     | everything of its cluster: control subjects, the state KV, the log stream, the blob store |
 * | admin           | the coordinator's rights plus shutdown (`admin`) and deleting/updating the streams        |
 * | client          | spawn/kill/lookups (`coord`), actor calls, lifecycle events, read and write blobs         |
 * | agent-<node>    | only its node's subjects: its orders, register/heartbeat/reports/logs under its node id   |
 * | host-<node>     | a client that also serves actor calls and reports under its node id (the actor hosts)     |
 *
 * Nobody but the coordinator and admin touches the state KV or another node's subjects, nobody but admin deletes a
 * stream, and every right names one cluster, so a client of one cluster cannot reach another's.
 */
import { parseArgs } from "node:util";
import { nkeys } from "@nats-io/transport-node";
import { ConfigError } from "../shared/mod.ts";
import { checkToken, type Subjects, subjects } from "../shared/mod.ts";
import { blobRights, blobSubscriptions, retireSubject, streamUse } from "../actors/weights/mod.ts";
import { logStreamName } from "./log_store.ts";
import { type UserRights, writeJwtSetup } from "./creds_jwt.ts";

/** Publish and subscribe rights of one user (nats-server `permissions`; the same in a user JWT). */
export type Permissions = UserRights;

/** The roles {@link rolePermissions} knows; `agent` and `host` are per node. */
export type Role = "coordinator" | "admin" | "client" | "agent" | "host";

const INBOX = "_INBOX.>";

/**
 * Inboxes a process publishes into without subscribing: large messages flow into the receiver's private inbox
 * (shared/chunking.ts), which is `_INBOX.…` or, for an actor host with a per-actor credential, `_INBOX_<cluster>.…`.
 */
function inboxTargets(names: Subjects): string[] {
  return [INBOX, `_INBOX_${names.cluster}.>`];
}

/** The rights of `role` in cluster `names` (`node` for agent and host). */
export function rolePermissions(names: Subjects, role: Role, node?: string): Permissions {
  const root = `coop.${names.cluster}`;
  const state = [`$KV.${names.stateBucket}.>`, ...streamUse(`KV_${names.stateBucket}`)];
  const logStream = logStreamName(names.cluster);
  const logs = streamUse(logStream);
  if (role === "coordinator" || role === "admin") {
    const publish = [`${root}.>`, ...state, ...logs, ...blobRights(names), ...inboxTargets(names)];
    // The coordinator keeps its state bucket's and log stream's settings current (openLogStream updates).
    publish.push(`$JS.API.STREAM.UPDATE.KV_${names.stateBucket}`, `$JS.API.STREAM.UPDATE.${logStream}`);
    if (role === "admin") {
      for (const stream of [`KV_${names.stateBucket}`, `OBJ_${names.blobBucket}`, logStream]) {
        publish.push(`$JS.API.STREAM.DELETE.${stream}`, `$JS.API.STREAM.UPDATE.${stream}`);
      }
    }
    return {
      publish: { allow: publish, ...(role === "coordinator" ? { deny: [names.admin] } : {}) },
      subscribe: { allow: [`${root}.>`, `$KV.${names.stateBucket}.>`, ...blobSubscriptions(names), INBOX] },
      allowResponses: true,
    };
  }
  const client: Permissions = {
    publish: {
      allow: [names.coordinator, names.lookup, `${root}.actor.>`, ...blobRights(names), ...inboxTargets(names)],
    },
    subscribe: { allow: [names.lifecycleAll, ...blobSubscriptions(names), INBOX] },
  };
  if (role === "client") return client;
  const id = checkToken("node id", node ?? "");
  const own = [names.node(id), names.heartbeat(id), names.report("*", id)];
  if (role === "agent") {
    // The agent's weight service only listens for retired versions (to delete this host's segments).
    return {
      publish: { allow: [...own, names.logsAll] },
      subscribe: { allow: [names.agent(id), retireSubject(names.cluster), INBOX] },
      allowResponses: true,
    };
  }
  return {
    publish: { allow: [...client.publish.allow, names.report("*", id)] },
    subscribe: { allow: [...client.subscribe.allow, `${root}.actor.>`] },
    allowResponses: true,
  };
}

/** One generated user: its role, the cluster, the public NKey and the seed. */
export interface GeneratedUser {
  cluster: string;
  role: string;
  publicKey: string;
  seed: string;
  permissions: Permissions;
}

function quote(values: string[]): string {
  return `[${values.map((v) => JSON.stringify(v)).join(", ")}]`;
}

/** The nats-server `authorization { users: [...] }` block for `users`. */
export function authorizationConfig(users: GeneratedUser[]): string {
  const lines = [
    "# Generated by `coop creds`: one NKey user per Coop role (see coordinator/creds.ts).",
    "authorization {",
  ];
  lines.push("  users: [");
  for (const user of users) {
    const { publish, subscribe, allowResponses } = user.permissions;
    const side = (p: { allow: string[]; deny?: string[] }) =>
      `{ allow: ${quote(p.allow)}${p.deny?.length ? `, deny: ${quote(p.deny)}` : ""} }`;
    lines.push(`    # ${user.cluster}/${user.role}`);
    lines.push(`    { nkey: ${user.publicKey}, permissions: {`);
    lines.push(`        publish: ${side(publish)}`);
    lines.push(`        subscribe: ${side(subscribe)}`);
    if (allowResponses) lines.push("        allow_responses: true");
    lines.push("    } }");
  }
  lines.push("  ]", "}", "");
  return lines.join("\n");
}

/** Options for {@link generateCreds}. */
export interface CredsOptions {
  clusters: string[];
  /** Node ids that get an agent and a host user in every cluster. */
  nodes: string[];
}

/** New NKeys and rights for every role of every cluster. */
export function generateCreds(options: CredsOptions): GeneratedUser[] {
  const users: GeneratedUser[] = [];
  for (const cluster of options.clusters) {
    const names = subjects(cluster);
    const roles: [string, Role, string?][] = [["coordinator", "coordinator"], ["admin", "admin"], ["client", "client"]];
    for (const node of options.nodes) roles.push([`agent-${node}`, "agent", node], [`host-${node}`, "host", node]);
    for (const [label, role, node] of roles) {
      const pair = nkeys.createUser();
      users.push({
        cluster,
        role: label,
        publicKey: pair.getPublicKey(),
        seed: new TextDecoder().decode(pair.getSeed()),
        permissions: rolePermissions(names, role, node),
      });
    }
  }
  return users;
}

/** Writes `<out>/nats-auth.conf` and `<out>/<cluster>/<role>.nk` (0600); returns the users. */
export async function writeCreds(out: string, options: CredsOptions): Promise<GeneratedUser[]> {
  const users = generateCreds(options);
  for (const user of users) {
    await Deno.mkdir(`${out}/${user.cluster}`, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(`${out}/${user.cluster}/${user.role}.nk`, `${user.seed}\n`, { mode: 0o600 });
  }
  await Deno.writeTextFile(`${out}/nats-auth.conf`, authorizationConfig(users), { mode: 0o600 });
  return users;
}

const USAGE = `Usage: coop creds --out DIR [--cluster NAME]... [--node ID]... [--jwt]

Per-role NATS credentials for Coop (see coordinator/creds.ts for what each role may do).
  --out DIR        where to write them (created, mode 0700; files 0600)
  --cluster NAME   cluster(s) to make users for (default "default"; --jwt takes one)
  --node ID        node ids: an agent user per node (and a host user, without --jwt)
  --jwt            operator mode: an operator, the cluster's account with a signing key (agents mint one
                   credential per actor host with it) and <role>.creds per role, with the same rights
  -h, --help       this text

Without --jwt: NKey seeds <cluster>/<role>.nk and nats-auth.conf (include it in the nats-server config).`;

/** `coop creds --out DIR --cluster NAME [--cluster NAME2] --node n1 --node n2 [--jwt]` */
export async function credsCommand(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        out: { type: "string" },
        cluster: { type: "string", multiple: true },
        node: { type: "string", multiple: true },
        jwt: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new ConfigError(`coop creds: ${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.out === undefined) throw new ConfigError(`Missing --out DIR: where to write the credentials\n\n${USAGE}`);
  const clusters = values.cluster?.length ? values.cluster : ["default"];
  if (values.jwt) return await jwtCommand(values.out, clusters, values.node ?? []);
  const users = await writeCreds(values.out, { clusters, nodes: values.node ?? [] });
  console.log(`Wrote ${users.length} NKey users to ${values.out}/ (seeds: <cluster>/<role>.nk, mode 0600).`);
  console.log(`Add to the nats-server config:  include "${values.out}/nats-auth.conf"`);
  console.log(
    "Give each process its seed: COOP_NATS_NKEY_SEED_FILE=<seed> (agents: COOP_HOST_NATS_NKEY_SEED_FILE too).",
  );
  return 0;
}

/** The per-role users of `coop creds --jwt`: the NKey roles' rights; no host users (agents mint those). */
export function jwtRoleUsers(cluster: string, nodes: string[]): { name: string; rights: Permissions }[] {
  const names = subjects(cluster);
  const roles: [string, Role, string?][] = [["coordinator", "coordinator"], ["admin", "admin"], ["client", "client"]];
  for (const node of nodes) roles.push([`agent-${node}`, "agent", node]);
  return roles.map(([name, role, node]) => ({ name, rights: rolePermissions(names, role, node) }));
}

/** `coop creds --jwt --out DIR --cluster NAME --node n1`: operator mode, per-role users, per-actor minting. */
async function jwtCommand(out: string, clusters: string[], nodes: string[]): Promise<number> {
  if (clusters.length !== 1) {
    throw new ConfigError(`coop creds --jwt makes one cluster's account: got --cluster ${clusters.join(", ")}`);
  }
  const users = jwtRoleUsers(clusters[0]!, nodes);
  const setup = await writeJwtSetup(out, users);
  console.log(`Wrote an operator, account ${setup.account.publicKey} and ${users.length} creds files to ${out}/.`);
  console.log(`Add to the nats-server config:  include "${out}/nats-jwt.conf"`);
  console.log("Every process: COOP_NATS_CREDS=<role>.creds; agents also COOP_NATS_ACCOUNT_SIGNING_SEED_FILE=");
  console.log(`  ${out}/account-signing.nk (they mint one credential per actor host; keep it on their machines).`);
  return 0;
}
