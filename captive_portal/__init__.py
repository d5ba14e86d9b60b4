"""The hotspot's captive portal: one tap, no email, no phone, no account (issue 5)."""
