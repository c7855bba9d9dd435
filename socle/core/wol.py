"""Wake-on-LAN from the machine socle runs on (a lycée serveur waking its own postes at night)."""

from __future__ import annotations

import re
import socket

_MAC = re.compile(r"^([0-9a-f]{2})([:-]?)([0-9a-f]{2})(\2[0-9a-f]{2}){4}$", re.IGNORECASE)


def magic_packet(mac: str) -> bytes:
    """Six 0xFF bytes, then the MAC sixteen times."""
    if not _MAC.match(mac):
        raise ValueError(f"not a MAC address: {mac!r}")
    raw = bytes.fromhex(re.sub(r"[:-]", "", mac))
    return b"\xff" * 6 + raw * 16


def wake(macs: list[str], *, broadcast: str = "255.255.255.255", port: int = 9) -> int:
    """Send a magic packet for each MAC to the local broadcast address; returns how many were sent."""
    packets = [magic_packet(m) for m in macs]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        for packet in packets:
            sock.sendto(packet, (broadcast, port))
    return len(packets)
