"""Pure translators between the OpenAI, Anthropic and Gemini wire formats."""
