"""The borne agent: one small daemon on every device (public PC, charging kiosk, hotspot)."""
