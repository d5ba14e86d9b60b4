"""Bringing bare Linux PCs into service from an admin's machine, over SSH.

``borne provision bootstrap`` installs the agent on one host (paramiko, the host's key pinned in
known_hosts), writes its configuration and systemd unit and enrols it with a fresh token from the
controller; ``borne provision batch`` does it for a CSV of hosts in parallel. Nothing here runs on
the PCs themselves, and nothing imports the controller: the admin's machine talks to it over its
API with the admin's token.
"""
