"""The mapping studio: live preview of a mapping over sample payloads, the samples themselves, and the backtest."""
