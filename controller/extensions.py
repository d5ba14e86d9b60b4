"""Flask extensions, created unbound and attached to each app by ``init_app``.

Flask-SocketIO and Flask-Login are the exceptions: a SocketIO object keeps the server of the app
it was bound to, and a LoginManager its login view and loader, so each app makes its own
(:func:`controller.realtime.init_realtime`, :func:`controller.accounts.init_app`); tests build
several apps.
"""

from __future__ import annotations

from flask_wtf import CSRFProtect

csrf = CSRFProtect()
