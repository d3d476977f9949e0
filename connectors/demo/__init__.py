"""Demo client systems for `make up`: an order API and an order database shaped like the Logitrack plan."""
