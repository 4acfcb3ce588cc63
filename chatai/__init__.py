"""ChatAI: AI customer support in Telegram, grounded in each business's own documents."""
