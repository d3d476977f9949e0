"""The `crossdock` command line: one entry point for running, configuring and operating Crossdock."""
