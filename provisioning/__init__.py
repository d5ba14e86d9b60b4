"""Provisioning: enrolment tokens in bulk, SSH bootstrap of fresh PCs, Ansible inventory."""
