"""A stand-in for the kernel's side of Linux configfs-tsm, for tests.

fnboxd (attestation/tsm.c) makes ROOT/report/<entry> and expects the kernel to create the
entry's attributes; on a plain directory this thread does it: for every new entry it creates
inblob, outblob, provider and generation, and whenever inblob holds 64 bytes it has not
answered yet, writes a synthesized quote embedding those bytes to outblob and increments
generation (each file replaced by rename, so a reader never sees half of one). fnboxd runs the
same code as against real configfs; only the quote's vendor signature is fake (random bytes),
which fnbox does not check (docs/attestation.md).

Quote layouts (offsets as in docs/attestation.md):
  TDX v4:  header 48 bytes (version 4, attestation key type 2, TEE type 0x81), TD report body
           584 bytes (MRTD at 184, RTMR0..3 at 376/424/472/520, REPORTDATA at 568), u32
           signature data length at 632, signature data.
  SEV-SNP: 0x4a0 bytes, version at 0, policy at 8, signature algorithm (1) at 0x34,
           REPORT_DATA at 0x50, MEASUREMENT at 0x90.
"""

import os
import struct
import threading
import time

TDX_SIG_LEN = 256
MRTD = bytes(range(0x10, 0x40))  # 48 recognisable bytes
RTMRS = [bytes([0xa0 + i]) * 48 for i in range(4)]
SNP_MEASUREMENT = bytes(range(0x50, 0x80))


def tdx_quote(report_data, mrtd=MRTD, rtmrs=RTMRS, debug=False):
    header = struct.pack("<HHI", 4, 2, 0x81) + b"\0" * 4 + b"\x11" * 16 + b"\x22" * 20
    assert len(header) == 48
    body = bytearray(584)
    body[0:16] = b"\x01" * 16                      # TEE_TCB_SVN
    body[16:64] = b"\x02" * 48                     # MRSEAM
    struct.pack_into("<Q", body, 120, 1 if debug else 0)  # TD_ATTRIBUTES
    body[136:184] = mrtd
    for i, r in enumerate(rtmrs):
        body[328 + 48 * i:376 + 48 * i] = r
    body[520:584] = report_data
    sig = os.urandom(TDX_SIG_LEN)
    return header + bytes(body) + struct.pack("<I", len(sig)) + sig


def snp_report(report_data, measurement=SNP_MEASUREMENT, version=2, debug=False):
    r = bytearray(0x4a0)
    struct.pack_into("<I", r, 0x00, version)
    struct.pack_into("<Q", r, 0x08, (1 << 16) | (1 << 17) | ((1 << 19) if debug else 0))
    struct.pack_into("<I", r, 0x34, 1)
    r[0x50:0x90] = report_data
    r[0x90:0xc0] = measurement
    r[0x2a0:0x4a0] = os.urandom(0x200)
    return bytes(r)


class FakeTsm:
    """Plays configfs-tsm under root (a directory). flavour: "tdx" or "sev-snp".
    tamper(report_data) -> report_data lets a test make the "hardware" answer other data."""

    def __init__(self, root, flavour="tdx", tamper=None):
        self.root = str(root)
        self.report = os.path.join(self.root, "report")
        os.makedirs(self.report, exist_ok=True)
        os.chmod(self.root, 0o755)
        os.chmod(self.report, 0o755)
        self.flavour = flavour
        self.tamper = tamper
        self.seen = []  # every inblob answered, in order
        self._answered = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)

    def _put(self, entry, name, data, mode=0o644):
        tmp = os.path.join(entry, f".{name}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.rename(tmp, os.path.join(entry, name))

    def _quote(self, rd):
        if self.tamper:
            rd = self.tamper(rd)
        return tdx_quote(rd) if self.flavour == "tdx" else snp_report(rd)

    def _run(self):
        while not self._stop.is_set():
            try:
                entries = os.listdir(self.report)
            except OSError:
                entries = []
            for name in entries:
                entry = os.path.join(self.report, name)
                if not os.path.isdir(entry):
                    continue
                try:
                    self._serve(entry)
                except OSError:
                    pass  # the entry went away under us
            time.sleep(0.003)

    def _serve(self, entry):
        if not os.path.exists(os.path.join(entry, "provider")):
            # the kernel makes these at mkdir; inblob is write-only for its owner
            self._put(entry, "inblob", b"", 0o200)
            self._put(entry, "outblob", b"")
            self._put(entry, "generation", b"0\n")
            self._put(entry, "provider",
                      b"tdx_guest\n" if self.flavour == "tdx" else b"sev_guest\n")
            self._answered[entry] = (None, 0)
            return
        with open(os.path.join(entry, "inblob"), "rb") as f:
            rd = f.read()
        last, gen = self._answered.get(entry, (None, 0))
        if len(rd) != 64 or rd == last:
            return
        self.seen.append(rd)
        self._put(entry, "outblob", self._quote(rd))
        self._put(entry, "generation", f"{gen + 1}\n".encode())
        self._answered[entry] = (rd, gen + 1)
