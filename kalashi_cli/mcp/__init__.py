"""kalashi over the Model Context Protocol (the SDK is imported by :mod:`.server` only, when serving)."""

#: the environment variable that sets the HTTP bearer token (else one is generated at start)
TOKEN_VAR = "KALASHI_MCP_TOKEN"
