#!/usr/bin/env python3
"""Runs the XBee node sketch in qemu-system-avr and checks what it sends.

The emulated Uno's serial port is a pseudo-terminal; this script reads it
and decodes the bytes with its own parser, written from Digi's frame format
(not the firmware's code): start 0x7E, LEN, frame data, checksum, with AP=2
escapes. It passes when it has seen, within the time limit, valid 0x10
Transmit Request frames carrying MQTT-SN QoS -1 PUBLISHes to both predefined
topic ids of the sketch.

Usage: qemu_xbee.py ELF   (build it with `make -C firmware qemu`)
Needs qemu-system-avr (Debian: qemu-system-misc). Not run in CI.
"""
import os
import re
import select
import subprocess
import sys
import termios
import time
import tty

LIMIT_S = 20
WANT_TOPICS = {4: "temperature", 5: "battery"}


def frames(data):
    """Yields the unescaped frame data of each frame with a good checksum."""
    for chunk in bytes(data).split(b"\x7e")[1:]:
        raw, i = bytearray(), 0
        while i < len(chunk):
            if chunk[i] == 0x7D and i + 1 < len(chunk):
                raw.append(chunk[i + 1] ^ 0x20)
                i += 2
            else:
                raw.append(chunk[i])
                i += 1
        if len(raw) < 3:
            continue
        length = raw[0] << 8 | raw[1]
        body = raw[2:2 + length + 1]
        if len(body) == length + 1 and sum(body) & 0xFF == 0xFF:
            yield bytes(body[:-1])


def publish(frame):
    """(flags, topic id, payload) of a 0x10 frame carrying a PUBLISH, else None."""
    if len(frame) < 14 or frame[0] != 0x10:
        return None
    msg = frame[14:]
    if len(msg) < 7 or msg[0] != len(msg) or msg[1] != 0x0C:
        return None
    return msg[2], msg[3] << 8 | msg[4], msg[7:]


def main():
    elf = sys.argv[1]
    qemu = subprocess.Popen(
        ["qemu-system-avr", "-machine", "uno", "-bios", elf, "-nographic",
         "-monitor", "none", "-serial", "pty"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = qemu.stdout.readline()
        match = re.search(r"(/dev/pts/\d+)", line)
        if not match:
            print("no pty from qemu:", line.strip())
            return 1
        fd = os.open(match.group(1), os.O_RDONLY | os.O_NOCTTY)
        tty.setraw(fd, termios.TCSANOW)
        started, data, seen = time.monotonic(), bytearray(), {}
        while time.monotonic() - started < LIMIT_S and len(seen) < len(WANT_TOPICS):
            if select.select([fd], [], [], 0.5)[0]:
                data += os.read(fd, 1024)
            for frame in frames(data):
                got = publish(frame)
                if got and got[0] == 0x61 and got[1] in WANT_TOPICS:
                    seen.setdefault(got[1], frame)
        for topic, frame in sorted(seen.items()):
            flags, _, payload = publish(frame)
            print(f"0x10 frame, dest64 {frame[2:10].hex()} dest16 {frame[10:12].hex()}: "
                  f"PUBLISH flags {flags:#04x} (QoS -1, predefined) topic {topic} "
                  f"({WANT_TOPICS[topic]}) payload {payload.decode()!r}")
        print(f"{len(data)} bytes read from the pty in {time.monotonic() - started:.1f} s")
        return 0 if len(seen) == len(WANT_TOPICS) else 1
    finally:
        qemu.kill()
        qemu.wait()


if __name__ == "__main__":
    sys.exit(main())
