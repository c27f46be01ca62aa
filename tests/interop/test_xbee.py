"""XBee interop: Digi's own Python library, ``digi-xbee`` (an independent
implementation of the API frame format), plays the XBee module on a pty.

Frames it builds (AT responses, Receive Packets, Transmit Status) must be
accepted by wren's XBee link, and every frame wren writes (AT queries,
Transmit Requests) must parse in it. Checked on the MQTT side with paho.
Both API modes: 1 (plain) and 2 (escaped). Note: ``build_frame`` wants
unescaped bytes even in escaped mode, so escaped input is unescaped first,
as the library's own serial reader does.
"""

from __future__ import annotations

import os
import select
import time
import tty

import pytest
from digi.xbee.models.address import XBee16BitAddress, XBee64BitAddress
from digi.xbee.models.mode import OperatingMode
from digi.xbee.models.options import ReceiveOptions
from digi.xbee.models.status import ATCommandStatus, TransmitStatus
from digi.xbee.packets.base import XBeePacket
from digi.xbee.packets.common import (
    ATCommPacket,
    ATCommResponsePacket,
    ReceivePacket,
    TransmitPacket,
    TransmitStatusPacket,
)
from digi.xbee.packets.factory import build_frame

import interop_helpers as h
from interop_helpers import WAIT

pytestmark = pytest.mark.wren_only(reason="Mosquitto has no MQTT-SN gateway")

NODE64 = XBee64BitAddress.from_hex_string("0013A20041B2C3D4")
NODE16 = XBee16BitAddress.from_hex_string("1A2B")


class Module:
    """The XBee module's side of a pty, speaking through digi-xbee."""

    def __init__(self, escaped: bool) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.escaped = escaped
        self.buf = bytearray()
        self.frame_ids: set[int] = set()

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)

    def write(self, packet: XBeePacket) -> None:
        os.write(self.master, bytes(packet.output(escaped=self.escaped)))

    def read_frame(self, timeout: float = WAIT) -> XBeePacket:
        """The next whole frame wren wrote, parsed by digi-xbee."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._take()
            if frame is not None:
                mode = OperatingMode.ESCAPED_API_MODE if self.escaped else OperatingMode.API_MODE
                return build_frame(frame, mode)
            left = deadline - time.monotonic()
            assert left > 0, f"no whole frame from wren within {timeout}s: {self.buf.hex()}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                self.buf += os.read(self.master, 4096)

    def _take(self) -> bytearray | None:
        """One whole frame (start byte, length, data, checksum), unescaped."""
        start = self.buf.find(0x7E)
        if start < 0:
            return None
        wire = self.buf[start + 1 :]
        head = _wire_len(wire, self.escaped, 2)
        if head is None:
            return None
        length = int.from_bytes(self._unescape(wire[:head]), "big")
        total = _wire_len(wire, self.escaped, length + 3)
        if total is None:
            return None
        frame = bytearray([0x7E]) + self._unescape(wire[:total])
        del self.buf[: start + 1 + total]
        return frame

    def _unescape(self, wire: bytearray) -> bytearray:
        return XBeePacket.unescape_data(wire) if self.escaped else bytearray(wire)

    def answer_probe(self) -> list[str]:
        """Answers wren's start-up AT queries as a joined module; returns them."""
        values = {"AP": bytearray([2 if self.escaped else 1]), "NP": bytearray([0x00, 0x54]),
                  "SH": bytearray.fromhex("0013A200"), "SL": bytearray.fromhex("41000001"),
                  "AI": bytearray([0])}
        asked = []
        for _ in values:
            query = self.read_frame()
            assert isinstance(query, ATCommPacket), query
            asked.append(query.command)
            self.write(ATCommResponsePacket(query.frame_id, query.command, ATCommandStatus.OK,
                                            values[query.command]))
        return asked

    def node_sends(self, mqttsn: bytes) -> None:
        self.write(ReceivePacket(NODE64, NODE16, ReceiveOptions.PACKET_ACKNOWLEDGED.value,
                                 bytearray(mqttsn)))

    def gateway_sends(self) -> bytes:
        """The next Transmit Request's RF data; acknowledged with a Transmit Status."""
        tx = self.read_frame()
        assert isinstance(tx, TransmitPacket), tx
        self.frame_ids.add(tx.frame_id)
        assert tx.x64bit_dest_addr == NODE64, tx
        self.write(TransmitStatusPacket(tx.frame_id, NODE16, 0, TransmitStatus.SUCCESS))
        return bytes(tx.rf_data)


def _wire_len(wire: bytearray, escaped: bool, count: int) -> int | None:
    """How many wire bytes hold ``count`` unescaped bytes; None if not all there yet."""
    i = n = 0
    while n < count:
        step = 2 if escaped and i < len(wire) and wire[i] == 0x7D else 1
        if i + step > len(wire):
            return None
        i += step
        n += 1
    return i


def sn(msg_type: int, body: bytes) -> bytes:
    """An MQTT-SN message (spec v1.2 §5.2), short Length form."""
    return bytes([len(body) + 2, msg_type]) + body


@pytest.mark.parametrize("api_mode", [1, 2])
def test_digi_xbee_frames_both_ways(broker_factory, topic, api_mode):
    module = Module(escaped=api_mode == 2)
    b = broker_factory(
        wren_toml=f'[[radio]]\nname = "zb"\nkind = "xbee"\nport = "{module.path}"\napi_mode = {api_mode}\n'
    )
    factory = h.ClientFactory(b.host, b.port)
    try:
        assert module.answer_probe() == ["AP", "NP", "SH", "SL", "AI"]
        sub = factory.connected()
        sub.subscribe(f"{topic}/#", 1)

        module.node_sends(sn(0x04, bytes([0x04, 0x01, 0x00, 0x3C]) + b"node1"))  # CONNECT
        assert module.gateway_sends() == bytes.fromhex("030500")  # CONNACK accepted
        name = f"{topic}/t".encode()
        module.node_sends(sn(0x0A, bytes([0, 0, 0, 1]) + name))  # REGISTER msg id 1
        regack = module.gateway_sends()
        assert regack[1] == 0x0B and regack[4:7] == bytes([0, 1, 0]), regack.hex()
        topic_id = regack[2:4]
        module.node_sends(sn(0x0C, bytes([0x00]) + topic_id + bytes([0, 0]) + b"21.5"))  # PUBLISH QoS 0
        got = sub.expect(1)[0]
        assert (got.topic, got.payload) == (f"{topic}/t", b"21.5")

        module.node_sends(sn(0x12, bytes([0x00, 0, 2]) + f"{topic}/cmd".encode()))  # SUBSCRIBE
        suback = module.gateway_sends()
        assert suback[1] == 0x13 and suback[-1] == 0, suback.hex()
        factory.connected().publish(f"{topic}/cmd", b"on", qos=0)
        publish = module.gateway_sends()
        assert publish[1] == 0x0C and publish[3:5] == suback[3:5] and publish[7:] == b"on", publish.hex()

        # Frame ids cycle through 1..255, so they pass 0x11, 0x13, 0x7D and 0x7E,
        # which AP=2 must escape (xbee-api#5 broke on id 0x7D): every transmit
        # until the ids wrap must still parse in digi-xbee.
        pub = factory.connected()
        for n in range(260):
            pub.publish(f"{topic}/cmd", str(n).encode(), qos=0)
            publish = module.gateway_sends()
            assert publish[7:] == str(n).encode(), publish.hex()
        assert {0x11, 0x13, 0x7D, 0x7E, 0xFF} <= module.frame_ids
        assert 0 not in module.frame_ids
    finally:
        factory.close_all()
        module.close()
