"""The public pages keep no table of their own: they read the places' sites and closures, and
count the fleet's devices and the kiosks' lockers (aggregates only). This module is here so that
every domain has the same shape (``controller.app.load_models`` imports each one's)."""
