"""Sales after they landed (Autentikapp): customers and the identifier codes linked to them."""
