// The client of scripts/bench-streams (issue #22): opens `--streams` chat-completion streams, started
// evenly over `--ramp` seconds, each its own connection (POST /v1/chat/completions, stream:true,
// stream_options.include_usage, model `paced-<events>`), and records per stream: time to first body
// byte, the gap before each next event, bytes, and whether it ended intact (HTTP 200, exactly `--events`
// events ending in `data: [DONE]`, exactly the bytes scripts/streams_sse.mjs says such a stream has).
// Plain Node, no packages.
//
//   node scripts/streams_client.mjs --url http://127.0.0.1:P --streams S --events N --out FILE
//        [--key K] [--prefix up/] [--ramp 5] [--interval-ms 1000] [--grace 60]
//
// `--prefix` goes before the model's name in the request (a gateway's `provider/`); the upstream
// answers with the name it was sent, `paced-<events>`.
//
// FILE gets {"expected_bytes", "wall_s", "streams": [{"start_ms", "end_ms", "ttfb_ms", "gaps_ms", "bytes",
// "events", "error"}] (times since the client's start),
// "samples": {error kind: first message}}; `error` is null for an intact stream. bench-streams
// summarises it. Streams not done `--grace` seconds after they were due to end count as `timeout`.

import http from "node:http";
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { streamBytes } from "./streams_sse.mjs";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    key: { type: "string", default: "bench-key" },
    prefix: { type: "string", default: "" },
    streams: { type: "string", default: "1000" },
    events: { type: "string", default: "20" },
    ramp: { type: "string", default: "5" },
    "interval-ms": { type: "string", default: "1000" },
    grace: { type: "string", default: "60" },
    out: { type: "string" },
  },
});
const url = new URL(opts.url);
const total = Number(opts.streams);
const events = Number(opts.events);
const rampMs = Number(opts.ramp) * 1000;
const model = `paced-${events}`;
const expectedBytes = streamBytes(model, events, true);
const body = Buffer.from(JSON.stringify({
  model: opts.prefix + model,
  messages: [{ role: "user", content: "Say something." }],
  stream: true,
  stream_options: { include_usage: true },
}));
const DONE = Buffer.from("data: [DONE]\n\n");
const streams = [];
const samples = {};
const t0 = performance.now();
let open = 0;
let started = 0;

function finish(s, error, detail) {
  if (s.done) return;
  s.done = true;
  open--;
  if (error === null) {
    if (s.events !== events || !s.tail.equals(DONE)) error = "short";
    else if (s.bytes !== expectedBytes) error = "bytes";
    detail = `${s.events} events, ${s.bytes} bytes`;
  }
  s.error = error;
  s.end = performance.now();
  if (error !== null && !(error in samples)) samples[error] = detail;
  if (open === 0 && started === total) report();
}

function start() {
  const s = { t: performance.now(), ttfb: null, last: 0, gaps: [], bytes: 0, events: 0, tail: Buffer.alloc(0),
    done: false, error: null, req: null, nl: false, end: 0 };
  streams.push(s);
  started++;
  open++;
  const req = http.request({
    host: url.hostname, port: url.port, path: "/v1/chat/completions", method: "POST", agent: false,
    headers: { "content-type": "application/json", "content-length": body.length, authorization: `Bearer ${opts.key}` },
  });
  s.req = req;
  req.on("error", (err) => finish(s, s.ttfb === null ? `connect:${err.code ?? err.message}` : `reset:${err.code ?? err.message}`, String(err)));
  req.on("response", (res) => {
    if (res.statusCode !== 200) {
      const parts = [];
      res.on("data", (p) => parts.push(p));
      res.on("end", () => finish(s, `http_${res.statusCode}`, Buffer.concat(parts).toString("utf8").slice(0, 300)));
      res.on("error", (err) => finish(s, `http_${res.statusCode}`, String(err)));
      return;
    }
    res.on("data", (chunk) => {
      const now = performance.now();
      if (s.ttfb === null) {
        s.ttfb = now - s.t;
        s.last = now;
      }
      s.bytes += chunk.length;
      // Events end in a blank line: count the "\n\n" in this piece, one split across pieces included.
      let n = s.nl && chunk[0] === 0x0a ? 1 : 0;
      for (let i = chunk.indexOf("\n\n"); i !== -1; i = chunk.indexOf("\n\n", i + 2)) n++;
      s.nl = chunk[chunk.length - 1] === 0x0a;
      for (let k = 0; k < n; k++) {
        if (s.events > 0) s.gaps.push(Math.round((now - s.last) * 10) / 10);
        s.last = now;
        s.events++;
      }
      const tail = Buffer.concat([s.tail, chunk]);
      s.tail = tail.length > DONE.length ? tail.subarray(tail.length - DONE.length) : tail;
    });
    res.on("end", () => finish(s, null));
    res.on("error", (err) => finish(s, `reset:${err.code ?? err.message}`, String(err)));
    res.on("aborted", () => finish(s, "reset:aborted", "response aborted"));
  });
  req.end(body);
}

function report() {
  clearTimeout(deadline);
  const out = {
    expected_bytes: expectedBytes,
    wall_s: (performance.now() - t0) / 1000,
    streams: streams.map((s) => ({
      start_ms: Math.round(s.t - t0),
      end_ms: Math.round(s.end - t0),
      ttfb_ms: s.ttfb === null ? null : Math.round(s.ttfb * 10) / 10,
      gaps_ms: s.gaps,
      bytes: s.bytes,
      events: s.events,
      error: s.error,
    })),
    samples,
  };
  writeFileSync(opts.out, JSON.stringify(out));
  const intact = streams.filter((s) => s.error === null).length;
  process.stderr.write(`streams_client: ${intact}/${total} intact in ${out.wall_s.toFixed(1)} s\n`);
  process.exit(0);
}

// The ramp: every 10 ms, start the streams due by then.
const ramp = setInterval(() => {
  const due = rampMs > 0 ? Math.min(total, Math.ceil(total * (performance.now() - t0) / rampMs)) : total;
  while (started < due) start();
  if (started === total) clearInterval(ramp);
}, 10);
const deadlineMs = rampMs + events * Number(opts["interval-ms"]) + Number(opts.grace) * 1000;
const deadline = setTimeout(() => {
  for (const s of streams) {
    if (!s.done) {
      finish(s, "timeout", `not done ${opts.grace} s after it was due to end (${s.events} events)`);
      s.req.destroy();
    }
  }
  report();
}, deadlineMs);
