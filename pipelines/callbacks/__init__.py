"""Status callbacks to client systems: the outbox, payloads, retry schedule, dead letters, replay."""
