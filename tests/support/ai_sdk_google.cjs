// Vercel's AI SDK with its Google provider against a gateway, for tests/process/test_ai_sdk_google.py:
// generateText, then streamText, with the model in MODEL; prints one JSON line of what each returned.
// GOOGLE_BASE_URL is the gateway's /v1beta, GOOGLE_KEY the key (sent as x-goog-api-key). The packages
// come from NODE_PATH (.tools/ai-sdk/node_modules, scripts/install-ai-sdk).
"use strict";
const { generateText, streamText } = require("ai");
const { createGoogleGenerativeAI } = require("@ai-sdk/google");

async function main() {
  const google = createGoogleGenerativeAI({
    baseURL: process.env.GOOGLE_BASE_URL,
    apiKey: process.env.GOOGLE_KEY,
  });
  const model = google(process.env.MODEL);
  const whole = await generateText({ model, prompt: "Say hello in five words.", maxRetries: 0 });
  const stream = streamText({ model, prompt: "Count to three, please.", maxRetries: 0 });
  const chunks = [];
  for await (const delta of stream.textStream) chunks.push(delta);
  console.log(
    JSON.stringify({
      text: whole.text,
      finishReason: whole.finishReason,
      usage: whole.usage,
      chunks,
      streamFinishReason: await stream.finishReason,
      streamUsage: await stream.usage,
    }),
  );
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
