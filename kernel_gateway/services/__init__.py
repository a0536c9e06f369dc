"""Services shared by both modes: kernels and sessions. No HTTP here."""
