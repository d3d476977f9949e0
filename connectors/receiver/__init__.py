"""The HTTP receiver: webhooks in (both seeds' contracts), the admin API, health. FastAPI + uvicorn."""
