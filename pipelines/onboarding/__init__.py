"""Client onboarding: what an operator hands a client (webhook URL, curl), the client's read-only status page, and staging."""
