"""I/O with client systems: the webhook receiver, REST poller, SQL source, file drops, callback sender."""
