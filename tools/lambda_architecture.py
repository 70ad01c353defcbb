"""Which of Lambda's Architectures an executable is built for, from its ELF header (e_machine):
tools/local-stack runs a foreign one under qemu-user, ./deploy refuses to package a mismatched one."""

import os

ELF_MACHINES = {0x3E: "x86_64", 0xB7: "arm64"}


def of_executable(path):
    """x86_64 or arm64; None for a file that is not an ELF executable for either."""
    with open(path, "rb") as binary:
        header = binary.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return ELF_MACHINES.get(int.from_bytes(header[18:20], "little"))


def of_this_machine():
    return {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(os.uname().machine)
