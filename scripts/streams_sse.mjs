// The chat-completions stream that scripts/streams_upstream.mjs serves and scripts/streams_client.mjs
// checks (scripts/bench-streams, issue #22): shaped like OpenAI's (tests/fixtures/providers/openai/
// chat.stream_text.sse): `chat.completion.chunk` events, a role chunk first, content chunks, a finish chunk,
// with stream_options.include_usage `"usage":null` on each and a usage chunk (`choices: []`) last, then
// `data: [DONE]`. Ids and timestamps have a fixed width, so the client knows a stream's exact byte count.

const WORDS = [" The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", "."];
const FINGERPRINT = "fp_d0469e1700";

/** The fewest events a stream can have: role, finish, [DONE], and the usage chunk when asked for. */
export function minEvents(includeUsage) {
  return includeUsage ? 4 : 3;
}

/** A chat-completion id of fixed width (OpenAI's are 38 characters too). */
export function completionId(seq) {
  return "chatcmpl-bench" + String(seq).padStart(24, "0");
}

/**
 * The `events` SSE events of one stream, [DONE] included, each a Buffer ending in a blank line.
 * `created` must be a 10-digit Unix time (as it is until 2286).
 */
export function chatEvents({ id, created, model, events, includeUsage }) {
  const content = events - minEvents(includeUsage);
  if (content < 0) throw new Error(`a stream needs at least ${minEvents(includeUsage)} events`);
  const head = `{"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},` +
    `"service_tier":"default","system_fingerprint":"${FINGERPRINT}","choices":[`;
  const tail = includeUsage ? ',"usage":null}' : "}";
  const choice = (delta, finish) =>
    `{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish === null ? "null" : `"${finish}"`}}]`;
  const out = [head + choice('{"role":"assistant","content":"","refusal":null}', null) + tail];
  for (let i = 0; i < content; i++) {
    out.push(head + choice(`{"content":${JSON.stringify(WORDS[i % WORDS.length])}}`, null) + tail);
  }
  out.push(head + choice("{}", "stop") + tail);
  if (includeUsage) {
    const usage = {
      prompt_tokens: 12,
      completion_tokens: content,
      total_tokens: 12 + content,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    out.push(head + `],"usage":${JSON.stringify(usage)}}`);
  }
  return [...out.map((data) => Buffer.from(`data: ${data}\n\n`)), Buffer.from("data: [DONE]\n\n")];
}

/** The byte count of a stream of `events` events for `model` (every id and timestamp is as wide). */
export function streamBytes(model, events, includeUsage) {
  return chatEvents({ id: completionId(0), created: 1700000000, model, events, includeUsage })
    .reduce((n, b) => n + b.length, 0);
}

/** The events of a model named `paced-<events>`, or null for any other name. */
export function eventsOfModel(model) {
  const m = /^paced-(\d+)$/.exec(model);
  return m ? Number(m[1]) : null;
}
