// A fake OpenAI upstream for scripts/bench-streams (issue #22): POST /v1/chat/completions with
// stream:true and model `paced-<N>` answers with N SSE events (scripts/streams_sse.mjs), the first at
// once and each next one `--interval-ms` after the one before, one write per event so each is a
// separate read at the other end. GET /v1/models answers for readiness checks. Plain Node, no packages.
//
//   node scripts/streams_upstream.mjs --port P [--interval-ms 1000] [--backlog 4096]
//
// On SIGTERM it prints one JSON line of counters (streams started, finished, cut by the client) and exits.

import http from "node:http";
import { parseArgs } from "node:util";
import { chatEvents, completionId, eventsOfModel, minEvents } from "./streams_sse.mjs";

const { values: opts } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    "interval-ms": { type: "string", default: "1000" },
    backlog: { type: "string", default: "4096" },
  },
});
const interval = Number(opts["interval-ms"]);
const counts = { started: 0, finished: 0, cut: 0, rejected: 0, open: 0, maxOpen: 0 };
let seq = 0;

function reject(res, status, message) {
  counts.rejected++;
  const body = JSON.stringify({ error: { message, type: "invalid_request_error", param: null, code: null } });
  res.writeHead(status, { "content-type": "application/json" }).end(body);
}

function stream(res, model, events, includeUsage) {
  const chunks = chatEvents({
    id: completionId(seq++), created: Math.floor(Date.now() / 1000), model, events, includeUsage,
  });
  counts.started++;
  counts.open++;
  counts.maxOpen = Math.max(counts.maxOpen, counts.open);
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-request-id": `req_${seq}`,
  });
  const start = performance.now();
  let next = 0;
  let timer = null;
  let done = false;
  const end = (cut) => {
    if (done) return;
    done = true;
    counts.open--;
    if (cut) counts.cut++;
    else counts.finished++;
  };
  res.on("close", () => {
    if (timer !== null) clearTimeout(timer);
    end(!res.writableFinished);
  });
  // Paced against the stream's start, not the previous write, so late timers do not add up.
  const send = () => {
    timer = null;
    res.write(chunks[next++]);
    if (next === chunks.length) {
      res.end();
      return;
    }
    timer = setTimeout(send, Math.max(0, start + next * interval - performance.now()));
  };
  send();
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/v1/models") {
    res.writeHead(200, { "content-type": "application/json" }).end('{"object":"list","data":[]}');
    return;
  }
  if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
    reject(res, 404, `no route ${req.method} ${req.url}`);
    return;
  }
  const parts = [];
  req.on("data", (part) => parts.push(part));
  req.on("end", () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(parts).toString("utf8"));
    } catch {
      reject(res, 400, "the body is not JSON");
      return;
    }
    const events = eventsOfModel(String(body.model));
    const includeUsage = body.stream_options?.include_usage === true;
    if (body.stream !== true || events === null || events < minEvents(includeUsage)) {
      reject(res, 400, "streams only, of a model `paced-<events>`");
      return;
    }
    stream(res, body.model, events, includeUsage);
  });
});
// No idle or request timeouts: the gateway's pool keeps connections between streams, and a run's
// streams last as long as they are paced to.
server.keepAliveTimeout = 0;
server.requestTimeout = 0;
server.headersTimeout = 0;
server.listen({ port: Number(opts.port), host: opts.host, backlog: Number(opts.backlog) });
process.on("SIGTERM", () => {
  process.stdout.write(JSON.stringify(counts) + "\n", () => process.exit(0));
});
