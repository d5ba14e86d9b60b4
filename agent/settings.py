"""The agent's settings: defaults here, then ``[agent]`` of a TOML file, then ``BORNE_AGENT_*``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from borne.settings import ImproperlyConfigured, load_settings

ENV_PREFIX = "BORNE_AGENT_"
DEFAULT_STATE_DIR = Path("/var/lib/borne-agent")


@dataclasses.dataclass(frozen=True)
class AgentSettings:
    """Everything the agent can be told; the controller's address may come from enrolment."""

    # Empty means "the address stored in credentials.json at enrolment".
    controller_url: str = ""
    state_dir: Path = DEFAULT_STATE_DIR
    # The name staff see for this device; empty means its host name.
    device_name: str = ""
    # None means "what the controller said at enrolment" (10 s if it said nothing usable).
    heartbeat_interval_s: int | None = None
    inventory_interval_s: float = 86_400.0
    spool_max_events: int = 50_000
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    http_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.controller_url and not self.controller_url.startswith(("http://", "https://")):
            raise ImproperlyConfigured(
                f"setting controller_url must start with http:// or https://, "
                f"got {self.controller_url!r}"
            )
        if self.heartbeat_interval_s is not None and not 1 <= self.heartbeat_interval_s <= 3600:
            raise ImproperlyConfigured(
                f"setting heartbeat_interval_s must be between 1 and 3600 seconds, "
                f"got {self.heartbeat_interval_s!r}"
            )
        for name in ("inventory_interval_s", "backoff_min_s", "http_timeout_s"):
            if getattr(self, name) <= 0:
                raise ImproperlyConfigured(
                    f"setting {name} must be positive, got {getattr(self, name)!r}"
                )
        if self.backoff_max_s < self.backoff_min_s:
            raise ImproperlyConfigured(
                f"setting backoff_max_s ({self.backoff_max_s}) must not be below "
                f"backoff_min_s ({self.backoff_min_s})"
            )
        if self.spool_max_events < 100:
            raise ImproperlyConfigured(
                f"setting spool_max_events must be at least 100, got {self.spool_max_events!r}"
            )


def load_agent_settings(
    *,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AgentSettings:
    """Load :class:`AgentSettings`; raises :class:`ImproperlyConfigured` naming the bad setting."""
    return load_settings(
        AgentSettings,
        toml_path=config_file,
        section="agent",
        env=env,
        env_prefix=ENV_PREFIX,
        overrides={k: v for k, v in (overrides or {}).items() if v is not None},
    )
