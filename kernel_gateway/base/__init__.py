"""What every handler of both modes shares: auth, CORS, JSON errors."""
