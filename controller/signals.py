"""Side effects other parts react to, announced with blinker (monitoring, tickets, live pages).

Senders do not know their receivers. Each signal's sender is a device id.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

device_enrolled = _signals.signal("device-enrolled")  # site_id, kind
device_status_changed = _signals.signal("device-status-changed")  # old, new, site_id
alert_raised = _signals.signal("alert-raised")  # alert_id, kind, message
alert_resolved = _signals.signal("alert-resolved")  # alert_id, kind
wipe_reported = _signals.signal("wipe-reported")  # site_id, clean, summary (a dict for pages)
