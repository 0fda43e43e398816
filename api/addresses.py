"""Whether a client address is one of a configured list of addresses or networks (``GONGHUI_METRICS_ALLOW``,
``GONGHUI_INTAKE_PLATFORM_ADDRESSES``): comma-separated, each an address or a network; a malformed entry or
address matches nothing."""

from __future__ import annotations

import ipaddress


def listed(address: str | None, configured: str) -> bool:
    try:
        client = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    for network in filter(None, (part.strip() for part in configured.split(","))):
        try:
            if client in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False
