"""Orders after they landed: lookups, the status machine and its history."""
