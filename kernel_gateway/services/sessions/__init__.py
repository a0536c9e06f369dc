"""Sessions, as jupyter_server models them: a path, name and type bound to a kernel."""

from .manager import SessionManager
from .model import NewSession, SessionChanges, parse_new_session, parse_session_changes

__all__ = [
    "NewSession",
    "SessionChanges",
    "SessionManager",
    "parse_new_session",
    "parse_session_changes",
]
