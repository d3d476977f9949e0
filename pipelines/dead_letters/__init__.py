"""Dead letters: what a person must look at (inbox payloads and callbacks that gave up) and replaying them."""
