"""Flask extensions, created unbound and attached to each app by ``init_app``.

Flask-SocketIO is the exception: its object keeps the server of the app it was bound to, so each
app makes its own in :func:`controller.realtime.init_realtime` (tests build several apps).
"""

from __future__ import annotations

from flask_login import LoginManager
from flask_wtf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
