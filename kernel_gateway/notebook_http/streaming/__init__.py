"""Responses fed by kernel outputs as they arrive: Server-Sent Events, chunked bodies, and the
size-bounded buffer of ordinary responses (docs/notebook-http.md, "Streaming")."""
