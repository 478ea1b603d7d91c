/**
 * The one typed client of the control API (CLI commands, the run driver's followers, tests): JSON requests with
 * the bearer token from COOP_API_TOKEN, failures rethrown as the typed error their status stands for, and
 * server-sent events parsed by `eventsource-parser` (any of CRLF, LF or CR line endings, comments, multi-line data).
 */
import { type ClusterSnapshot, ConflictError } from "../http/mod.ts";
import { EventSourceParserStream } from "eventsource-parser/stream";

import { ConfigError, CoopError, NotFoundError } from "../../shared/mod.ts";
import type { MetricPoint, RunStatus } from "./job.ts";

/** One server-sent event. */
export interface ServerEvent {
  event: string;
  data: string;
}

/** A client of one coordinator's control API. */
export class ApiClient {
  readonly base: string;
  readonly #headers: Record<string, string>;

  constructor(base: string, token = Deno.env.get("COOP_API_TOKEN")) {
    this.base = base.replace(/\/$/, "");
    this.#headers = token ? { authorization: `Bearer ${token}` } : {};
  }

  /** GET a JSON body; throws with the API's error message on failure. */
  async get<T>(path: string): Promise<T> {
    return await this.#read<T>(path, await this.#fetch(path, { headers: this.#headers }));
  }

  /** POST JSON; throws with the API's error message on failure. */
  async post<T>(path: string, body: unknown): Promise<T> {
    const response = await this.#fetch(path, {
      method: "POST",
      headers: { ...this.#headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return await this.#read<T>(path, response);
  }

  /** The cluster snapshot (`GET /v1/cluster`). */
  cluster(): Promise<ClusterSnapshot & { summary: Record<string, unknown> }> {
    return this.get("/v1/cluster");
  }

  /** Every run, newest first. */
  async runs(): Promise<RunStatus[]> {
    return (await this.get<{ runs: RunStatus[] }>("/v1/runs")).runs;
  }

  /** One run's status. */
  async run(id: string): Promise<RunStatus> {
    return (await this.get<{ run: RunStatus }>(`/v1/runs/${encodeURIComponent(id)}`)).run;
  }

  /** A run's metric points after step `since`. */
  async metrics(id: string, since?: number): Promise<MetricPoint[]> {
    const query = since === undefined ? "" : `?since=${since}`;
    return (await this.get<{ metrics: MetricPoint[] }>(`/v1/runs/${encodeURIComponent(id)}/metrics${query}`)).metrics;
  }

  /** Submits a run (config as YAML/JSON text or an object). */
  async startRun(config: string | Record<string, unknown>, resume?: string): Promise<RunStatus> {
    return (await this.post<{ run: RunStatus }>("/v1/runs", { config, resume })).run;
  }

  /** Asks a running run to stop (ConflictError when it already ended). */
  async stopRun(id: string): Promise<RunStatus> {
    return (await this.post<{ run: RunStatus }>(`/v1/runs/${encodeURIComponent(id)}/stop`, {})).run;
  }

  /** Continues an interrupted, stopped or failed run from its last checkpoint. */
  async resumeRun(id: string): Promise<RunStatus> {
    return (await this.post<{ run: RunStatus }>(`/v1/runs/${encodeURIComponent(id)}/resume`, {})).run;
  }

  /** Server-sent events of `path`, until the server ends the stream or `signal` aborts. */
  async *events(path: string, signal?: AbortSignal): AsyncGenerator<ServerEvent> {
    const response = await this.#fetch(path, {
      headers: { ...this.#headers, accept: "text/event-stream" },
      signal,
    });
    if (!response.ok) await this.#read(path, response);
    if (response.body === null) throw new CoopError(`API stream ${path} returned no body`);
    const stream = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
    for await (const message of stream) yield { event: message.event ?? "message", data: message.data };
  }

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, init);
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw new CoopError(`Cannot reach the control API at ${this.base}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async #read<T>(path: string, response: Response): Promise<T> {
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const name = typeof body?.error?.name === "string" ? `${body.error.name}: ` : "";
      const message = `API request ${path} failed with ${response.status}: ${name}${
        body?.error?.message ?? `HTTP ${response.status}`
      }`;
      // The API maps NotFoundError to 404, ConflictError to 409 and ConfigError (and malformed bodies) to 400.
      if (response.status === 404) throw new NotFoundError(message);
      if (response.status === 409) throw new ConflictError(message);
      if (response.status === 400) throw new ConfigError(message);
      throw new CoopError(message);
    }
    return body as T;
  }
}
