"""Stream translation, with Anthropic stream events as the hub. Pure and synchronous.

Every upstream stream becomes Anthropic events; for OpenAI clients those become OpenAI chunks, for
Responses API clients Responses events, for Gemini clients Gemini chunks:

    OpenAI-format upstream ──OpenAIToAnthropicStream──┐
    Gemini upstream ────────GeminiToAnthropicStream───┼──► Anthropic events ──► Anthropic client
    Anthropic upstream ───────────────────────────────┘          │
                                                                 ├─AnthropicToOpenAIStream────► OpenAI client
                                                                 ├─AnthropicToResponsesStream─► Responses
                                                                 └─AnthropicToGeminiStream────► Gemini client

One translator a module, named by direction (`openai_to_anthropic`, `gemini_to_anthropic`,
`anthropic_to_openai`, `anthropic_to_responses`, `anthropic_to_gemini`); the two that write
Anthropic events share `anthropic_events`. Each translator takes the parsed upstream events one at a
time (`feed`; the caller skips OpenAI's `[DONE]`) and returns
the events to send; `finish()`, at the upstream's end of stream, returns whatever closing events are
missing, so even a cut stream ends well formed. `ended` says whether the upstream ended its stream
itself (its last event, or an error event): the relay calls `finish()` only then, and reports a stream
cut short as an error instead of closing it as if complete. An upstream error becomes an error event
in the client's dialect and ends the stream (nothing follows it, `finish()` included). `usage` is the
normalised usage seen so far (`llmgw.translate.usage.Usage`, None before any), `output_events` the
number of upstream deltas that carried output (to estimate tokens when a stream is cut). Decode the
upstream with `llmgw.relay.streams.sse.SSEDecoder`, encode the output with the client dialect's
`encode_event` (`llmgw/wire/`; + `OPENAI_DONE`). The mapping decisions are listed in each module's docstring.
"""
