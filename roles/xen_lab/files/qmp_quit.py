# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask the QEMU behind the QMP socket argv[1] to quit (exit 0 when the command was accepted)."""
import json
import socket
import sys


def main(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    stream = sock.makefile("rw")
    json.loads(stream.readline())  # greeting
    for command in ("qmp_capabilities", "quit"):
        stream.write(json.dumps({"execute": command}) + "\n")
        stream.flush()
        while True:
            reply = json.loads(stream.readline())
            if "return" in reply or "error" in reply:
                break
        if "error" in reply:
            sys.exit("QMP %s: %s" % (command, reply["error"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
