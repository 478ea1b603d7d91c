// The Coop dashboard: follows /v1/events (server-sent events, parsed by eventsource-parser) with the bearer token
// kept in localStorage, and renders the cluster, actors and runs. Rendering is batched to one pass per animation
// frame, and every field is read defensively: a run without some metric shows "no data yet", never an exception.
import { EventSourceParserStream } from "./vendor/eventsource-parser/stream.js";
import { COLORS, drawLines } from "./charts.js";

const TOKEN_KEY = "coop.apiToken";
const CHARTS = [
  { id: "reward", title: "reward", keys: ["reward_mean", "rm_reward_mean"] },
  { id: "accuracy", title: "verifier accuracy", keys: ["train_accuracy", "eval_accuracy"], range: [0, 1] },
  {
    id: "agreement",
    title: "RM agreement",
    keys: ["rm_verifier_agreement", "rm_sample_accuracy", "rm_pair_accuracy"],
    range: [0, 1],
  },
  {
    id: "hacking",
    title: "hacking: σ(RM) − accuracy (red while the monitor's alarm fires)",
    keys: ["hacking_gap"],
    alarm: "hacking_alarm",
  },
  { id: "throughput", title: "throughput (samples/s)", keys: ["samples_per_s"] },
  { id: "loss", title: "policy loss", keys: ["loss", "policy_loss"] },
  { id: "rm-loss", title: "RM loss (cooper)", keys: ["rm_loss"] },
];

const state = { cluster: null, runs: new Map(), actorLogs: null };
let scheduled = false;

const $ = (id) => document.getElementById(id);
const token = () => localStorage.getItem(TOKEN_KEY) ?? "";
const authHeaders = () => (token() ? { authorization: `Bearer ${token()}` } : {});

function setConnection(kind, text) {
  $("connection").dataset.state = kind;
  $("connection").textContent = text;
}

function problem(message) {
  $("problem").hidden = message === undefined;
  $("problem").textContent = message ?? "";
}

function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    try {
      render();
    } catch (error) {
      problem(`Cannot render: ${error.message}`);
    }
  });
}

function td(text, className) {
  const cell = document.createElement("td");
  cell.textContent = text ?? "–";
  if (className) cell.className = className;
  return cell;
}

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const q = (v) => (num(v) === undefined ? "–" : Number.isInteger(v) ? String(v) : v.toFixed(2));
const freeOf = (free, total) => `${q(free)}/${q(total)}`;

function renderCluster() {
  const c = state.cluster;
  if (!c) return;
  const nodes = Array.isArray(c.nodes) ? c.nodes : [];
  const actors = Array.isArray(c.actors) ? c.actors : [];
  const alive = nodes.filter((n) => n.alive).length;
  $("summary").textContent = `${alive}/${nodes.length} nodes alive · ${actors.length} actors · ` +
    `${Array.isArray(c.pending) ? c.pending.length : 0} pending`;
  $("nodes").tBodies[0].replaceChildren(...nodes.map((n) => {
    const row = document.createElement("tr");
    row.dataset.node = n.id;
    row.append(
      td(n.id),
      td(n.alive ? "alive" : "dead", n.alive ? "state-alive" : "state-dead"),
      td(freeOf(n.free?.cpu, n.total?.cpu), "num"),
      td(freeOf(n.free?.gpus?.length, n.total?.gpus?.length), "num"),
      td(freeOf(n.free?.memoryMb, n.total?.memoryMb), "num"),
      td(String(n.actors?.length ?? 0), "num"),
    );
    return row;
  }));
  $("actors").tBodies[0].replaceChildren(...actors.map((a) => {
    const row = document.createElement("tr");
    row.dataset.actor = a.id;
    const button = document.createElement("button");
    button.textContent = "logs";
    button.addEventListener("click", () => void showLogs(a));
    const cell = document.createElement("td");
    cell.append(button);
    row.append(
      td(a.id),
      td(a.name),
      td(a.className),
      td(a.nodeId),
      td(a.state, `state-${a.state}`),
      td(`${a.restarts ?? 0}${a.maxRestarts !== undefined ? `/${a.maxRestarts}` : ""}`, "num"),
      cell,
    );
    return row;
  }));
}

async function showLogs(actor) {
  $("logs").hidden = false;
  $("logs-title").textContent = `logs of ${actor.name ?? actor.id}`;
  try {
    const response = await fetch(`/v1/actors/${encodeURIComponent(actor.id)}?logs=200`, { headers: authHeaders() });
    const body = await response.json();
    if (!response.ok) throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
    const lines = Array.isArray(body.logs) ? body.logs : [];
    $("logs-text").textContent = lines.map((l) => `${l.stream === "stderr" ? "!" : " "} ${l.line}`).join("\n") ||
      "(no lines)";
  } catch (error) {
    $("logs-text").textContent = `Cannot read logs: ${error.message}`;
  }
}

function runCard(id) {
  let card = document.querySelector(`.run[data-run="${CSS.escape(id)}"]`);
  if (card) return card;
  card = document.createElement("article");
  card.className = "run";
  card.dataset.run = id;
  card.innerHTML = `<div class="run-head"><h3></h3><span class="state"></span><span class="step"></span>
    <span class="staleness"></span><span class="samples"></span><button class="stop">stop</button></div>
    <div class="charts"></div><div class="notes"></div>`;
  card.querySelector("h3").textContent = id;
  card.querySelector(".stop").addEventListener("click", () => void stopRun(id, card));
  const charts = card.querySelector(".charts");
  for (const chart of CHARTS) {
    const figure = document.createElement("figure");
    figure.dataset.chart = chart.id;
    const caption = document.createElement("figcaption");
    caption.innerHTML = `<span class="title"></span><span class="legend"></span>`;
    caption.querySelector(".title").textContent = chart.title;
    figure.append(caption, document.createElementNS("http://www.w3.org/2000/svg", "svg"));
    figure.querySelector("svg").setAttribute("class", "chart");
    charts.append(figure);
  }
  return card;
}

async function stopRun(id, card) {
  const button = card.querySelector(".stop");
  button.disabled = true;
  button.textContent = "stopping…";
  try {
    const response = await fetch(`/v1/runs/${encodeURIComponent(id)}/stop`, { method: "POST", headers: authHeaders() });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
    }
  } catch (error) {
    problem(`Cannot stop run ${id}: ${error.message}`);
    button.disabled = false;
    button.textContent = "stop";
  }
}

function renderRun(run) {
  const s = run.status ?? {};
  const card = runCard(s.id);
  card.dataset.state = s.state ?? "unknown";
  card.dataset.step = String(num(s.step) ?? 0);
  const stateEl = card.querySelector(".state");
  stateEl.textContent = s.state ?? "unknown";
  stateEl.className = `state state-${s.state}`;
  card.querySelector(".step").textContent = `step ${q(s.step)}/${q(s.steps)}`;
  const st = s.staleness ?? {};
  card.querySelector(".staleness").textContent = `staleness ${q(st.last)} (highest ${q(st.highest)}, bound ${
    q(st.max)
  })`;
  const a = s.accounting ?? {};
  card.querySelector(".samples").textContent = `samples: ${q(a.generated)} generated · ${q(a.scored)} scored · ` +
    `${q(a.trained)} trained · ${q(a.droppedStale)} dropped-stale`;
  const stop = card.querySelector(".stop");
  if (s.state !== "running") {
    stop.disabled = true;
    stop.textContent = s.state === "stopped" ? "stopped" : "stop";
  }
  const notes = [
    s.error ? `${s.error.name}: ${s.error.message}` : "",
    s.resumeCommand ? `resume: ${s.resumeCommand}` : "",
  ];
  card.querySelector(".notes").textContent = notes.filter(Boolean).join(" · ");
  for (const chart of CHARTS) {
    const figure = card.querySelector(`figure[data-chart="${chart.id}"]`);
    const series = chart.keys.map((key) => ({
      name: key,
      points: run.metrics.map((p) => [p.step, num(p[key]) ?? NaN]),
    }))
      .filter((s) => s.points.some(([, y]) => Number.isFinite(y)));
    drawLines(figure.querySelector("svg"), series, { range: chart.range });
    const last = run.metrics.at(-1);
    figure.classList.toggle("alarm", chart.alarm !== undefined && num(last?.[chart.alarm]) === 1);
    const legend = figure.querySelector(".legend");
    legend.replaceChildren(...series.map((s, i) => {
      const span = document.createElement("span");
      span.style.color = COLORS[i % COLORS.length];
      const value = [...s.points].reverse().find(([, y]) => Number.isFinite(y))?.[1];
      span.textContent = `${s.name} ${q(value)}`;
      return span;
    }));
  }
  return card;
}

function render() {
  renderCluster();
  const runs = [...state.runs.values()].filter((r) => r.status?.id)
    .sort((x, y) => String(y.status.startedAt).localeCompare(String(x.status.startedAt)));
  const container = $("runs");
  if (runs.length === 0) return;
  container.replaceChildren(...runs.map(renderRun));
}

function entry(id) {
  let run = state.runs.get(id);
  if (!run) state.runs.set(id, run = { status: { id }, metrics: [] });
  return run;
}

function handle(event, data) {
  if (event === "cluster") state.cluster = data;
  else if (event === "run" && data?.id) entry(data.id).status = data;
  else if (event === "history" && data?.id) entry(data.id).metrics = Array.isArray(data.metrics) ? data.metrics : [];
  else if (event === "metric" && data?.id && data.point) {
    const run = entry(data.id);
    // A resumed run records its steps again: keep one point per step, the newest.
    run.metrics = run.metrics.filter((p) => p.step < data.point.step);
    run.metrics.push(data.point);
  } else if (event === "problem") problem(data?.message);
  schedule();
}

let connection = null;

async function connect() {
  connection?.abort();
  const abort = connection = new AbortController();
  setConnection("connecting", "connecting…");
  try {
    const response = await fetch("/v1/events", {
      headers: { ...authHeaders(), accept: "text/event-stream" },
      signal: abort.signal,
    });
    if (response.status === 401) {
      setConnection("unauthorized", "token needed");
      problem("The API needs a token: enter it above.");
      return;
    }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    setConnection("live", "live");
    problem(undefined);
    const events = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
    for await (const message of events) {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        continue;
      }
      handle(message.event, data);
    }
    throw new Error("the stream ended");
  } catch (error) {
    if (abort.signal.aborted) return;
    setConnection("error", `disconnected (${error.message}); retrying`);
    setTimeout(() => {
      if (connection === abort) void connect();
    }, 2000);
  }
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  void connect();
});
void connect();
