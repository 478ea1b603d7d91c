/**
 * Leadership lease: one coordinator per cluster. The lease is a key in the cluster's state bucket, taken with a
 * create-if-absent and renewed with update-at-expected-revision (CAS), so two coordinators can never both hold it.
 * A waiting coordinator judges expiry by its own clock (how long the key's revision has not moved), not by the
 * holder's timestamps, so clock skew between hosts does not matter.
 */
import { decode, encode } from "../shared/mod.ts";
import { CoopError } from "../shared/mod.ts";
import { createLogger } from "../shared/mod.ts";
import type { KvEntry, KvStore } from "../shared/mod.ts";

const log = createLogger({ component: "lease" });

/** KV key of the lease in the cluster's state bucket. */
export const LEASE_KEY = "leader";

/** Who holds (or held) the lease. */
export interface LeaseHolder {
  host: string;
  pid: number;
  /** Unique per coordinator process start. */
  id: string;
  since: number;
  /** Set when the holder stopped cleanly: the next coordinator may take over at once. */
  released?: boolean;
  /**
   * The holder's epoch may not be below this. A takeover sets it above the previous holder's epoch, and
   * {@link Lease.raiseEpoch} above what agents report, so the epoch never goes backwards even when the key's revision
   * does (a recreated bucket after JetStream data was lost starts counting at 1 again).
   */
  minEpoch?: number;
}

/** Another coordinator holds the cluster's lease (raised when not standing by). */
export class LeaseHeldError extends CoopError {
  override name = "LeaseHeldError";
  readonly holder: LeaseHolder;

  constructor(cluster: string, holder: LeaseHolder) {
    super(
      `Cannot lead cluster "${cluster}": coordinator pid ${holder.pid} on host "${holder.host}" holds the lease ` +
        `(since ${new Date(holder.since).toISOString()})`,
    );
    this.holder = holder;
  }
}

/** Options for {@link acquireLease}. */
export interface LeaseOptions {
  /** The lease renews this often (ms). Default 1000. */
  renewMs?: number;
  /** A lease not renewed for this long (ms) may be taken over. Default 3 × renewMs. */
  ttlMs?: number;
  /**
   * Wait until the lease is free (standby), or throw {@link LeaseHeldError} as soon as the holder is seen renewing
   * (a holder that does not renew within the TTL is taken over either way). Default true.
   */
  standby?: boolean;
  /** Called once when this process starts waiting for another holder. */
  onStandby?: (holder: LeaseHolder) => void;
  /** Stop waiting (standby) when aborted. */
  signal?: AbortSignal;
}

/** A held lease; renewal runs in the background until `release()` or until the lease is lost. */
export class Lease {
  readonly holder: LeaseHolder;
  readonly #kv: KvStore;
  #revision: number;
  #timer: ReturnType<typeof setInterval>;
  #busy = false;
  #released = false;
  #resolveLost = (_reason: string) => {};
  /** Resolves (with why) when another coordinator took the lease: this one must stop serving. */
  readonly lost = new Promise<string>((resolve) => this.#resolveLost = resolve);

  /**
   * Fencing epoch: the lease key's revision when this holder took it. Every takeover writes after the previous
   * holder's last renewal, so a later leader always has a higher epoch; agents refuse orders below the highest
   * epoch they have seen, so a deposed leader (paused past its lease, then waking) cannot act.
   */
  get epoch(): number {
    return this.#epoch;
  }
  #epoch: number;

  constructor(kv: KvStore, holder: LeaseHolder, revision: number, renewMs: number) {
    this.#kv = kv;
    this.holder = holder;
    this.#revision = revision;
    this.#epoch = Math.max(revision, holder.minEpoch ?? 0);
    this.#timer = setInterval(() => void this.#renew(), renewMs);
  }

  /**
   * Raises the epoch above `above` (an epoch an agent has seen, higher than ours: the lease key was recreated after
   * JetStream data was lost). Written with CAS, so only a holder that still holds the lease can raise it; a deposed
   * leader's attempt fails (and its renewal then reports the loss). Returns the epoch now in force.
   */
  async raiseEpoch(above: number): Promise<number> {
    if (above < this.#epoch) return this.#epoch;
    while (this.#busy) await new Promise((resolve) => setTimeout(resolve, 10));
    this.#busy = true;
    try {
      const holder = { ...this.holder, minEpoch: above + 1 };
      this.#revision = await this.#kv.update(LEASE_KEY, encode(holder), this.#revision);
      this.holder.minEpoch = above + 1;
      this.#epoch = above + 1;
      return this.#epoch;
    } finally {
      this.#busy = false;
    }
  }

  async #renew(): Promise<void> {
    if (this.#busy || this.#released) return;
    this.#busy = true;
    try {
      this.#revision = await this.#kv.update(LEASE_KEY, encode(this.holder), this.#revision);
    } catch (error) {
      // A failed CAS means someone else wrote the key; a lost connection is retried on the next tick.
      const entry = await this.#kv.entry(LEASE_KEY).catch(() => undefined);
      if (entry === undefined) return;
      if (entry === null && await this.#recreate()) return;
      const current = entry === null ? undefined : readHolder(entry);
      if (current?.id !== this.holder.id) {
        clearInterval(this.#timer);
        this.#resolveLost(
          current === undefined
            ? `the lease key was removed (${(error as Error).message})`
            : `coordinator pid ${current.pid} on host "${current.host}" took the lease`,
        );
      } else {
        this.#revision = entry!.revision;
      }
    } finally {
      this.#busy = false;
    }
  }

  /**
   * The key is gone while we held it: the bucket was recreated after JetStream data was lost (or an operator deleted
   * it). Take it again if nobody else has (create-if-absent), keeping our epoch as the floor; false if we lost it.
   */
  async #recreate(): Promise<boolean> {
    try {
      this.holder.minEpoch = this.#epoch;
      this.#revision = await this.#kv.create(LEASE_KEY, encode(this.holder));
      log.warn(`the lease key vanished (JetStream state lost?); re-created it at epoch ${this.#epoch}`);
      return true;
    } catch {
      return false;
    }
  }

  /** Stops renewing and marks the lease released so a successor need not wait for it to expire. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    while (this.#busy) await new Promise((resolve) => setTimeout(resolve, 10));
    await this.#kv.update(LEASE_KEY, encode({ ...this.holder, released: true }), this.#revision).catch(() => {});
  }
}

function readHolder(entry: KvEntry): LeaseHolder | undefined {
  try {
    const value = decode(entry.value) as LeaseHolder;
    return typeof value?.id === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the cluster's coordinator lease: at once when free, released or expired; else waits or throws. */
export async function acquireLease(kv: KvStore, cluster: string, options: LeaseOptions = {}): Promise<Lease> {
  const renewMs = options.renewMs ?? 1000;
  const ttlMs = options.ttlMs ?? 3 * renewMs;
  const holder: LeaseHolder = { host: Deno.hostname(), pid: Deno.pid, id: crypto.randomUUID(), since: Date.now() };
  let seen: { revision: number; at: number } | undefined;
  let firstRevision: number | undefined;
  let announced = false;
  const pause = () => new Promise((resolve) => setTimeout(resolve, Math.max(50, renewMs / 2)));
  while (true) {
    options.signal?.throwIfAborted();
    let entry: KvEntry | null;
    try {
      entry = await kv.entry(LEASE_KEY);
    } catch (error) {
      // NATS unreachable: nobody can take the lease meanwhile, keep trying.
      log.warn(`Cannot read the lease of cluster "${cluster}": ${(error as Error).message}`);
      await pause();
      continue;
    }
    const current = entry === null ? undefined : readHolder(entry);
    try {
      if (entry === null) {
        holder.since = Date.now();
        return new Lease(kv, holder, await kv.create(LEASE_KEY, encode(holder)), renewMs);
      }
      firstRevision ??= entry.revision;
      if (seen?.revision !== entry.revision) seen = { revision: entry.revision, at: Date.now() };
      const expired = Date.now() - seen.at >= ttlMs;
      if (current === undefined || current.released || expired) {
        holder.since = Date.now();
        // Above the previous holder's epoch, whatever the revision: every later leader orders above every earlier one.
        holder.minEpoch = Math.max(entry.revision, current?.minEpoch ?? 0) + 1;
        return new Lease(kv, holder, await kv.update(LEASE_KEY, encode(holder), entry.revision), renewMs);
      }
    } catch {
      // Another coordinator won the race for this revision (or the write failed): look again.
      await pause();
      continue;
    }
    // Refusing needs proof of life: a renewal seen while watching. A holder that stopped renewing (killed) is
    // taken over once its lease expires, as a standby would.
    if (options.standby === false && firstRevision !== entry.revision) throw new LeaseHeldError(cluster, current);
    if (!announced && options.standby !== false) {
      announced = true;
      options.onStandby?.(current);
    }
    await pause();
  }
}
