"""A minimal SAS XPORT (v5) writer for tests (SEND studies ship as .xpt): numeric columns as 8-byte IBM
floats, character columns blank-padded; enough for pandas.read_sas to read back."""
import math
import struct

import pandas as pd


def ibm_float(x: float) -> bytes:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return b"." + b"\x00" * 7                         # SAS missing value
    if x == 0:
        return b"\x00" * 8
    sign = 0x80 if x < 0 else 0
    x = abs(x)
    exponent = 64
    while x >= 1:
        x /= 16.0
        exponent += 1
    while x < 1 / 16.0:
        x *= 16.0
        exponent -= 1
    mantissa = int(round(x * 2 ** 56))
    if mantissa >= 2 ** 56:
        mantissa //= 16
        exponent += 1
    return bytes([sign | exponent]) + mantissa.to_bytes(7, "big")


def _rec(text: str) -> bytes:
    b = text.encode("ascii")
    assert len(b) <= 80
    return b.ljust(80, b" ")


def write_xport(path, df: pd.DataFrame, name: str) -> None:
    stamp = "01JAN24:00:00:00"
    out = [_rec("HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!000000000000000000000000000000"),
           _rec("SAS     SAS     SASLIB  9.1     Linux" + " " * 3 + " " * 24 + stamp),
           _rec(stamp),
           _rec("HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!000000000000000001600000000140"),
           _rec("HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!000000000000000000000000000000"),
           _rec("SAS     " + name.upper().ljust(8) + "SASDATA 9.1     Linux   " + " " * 24 + stamp),
           _rec(stamp + " " * 16 + " " * 40 + " " * 8),
           _rec(f"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!000000{len(df.columns):04d}00000000000000000000")]
    kinds, widths, pos, names = [], [], 0, b""
    for i, col in enumerate(df.columns):
        numeric = pd.api.types.is_numeric_dtype(df[col])
        width = 8 if numeric else max(1, int(df[col].fillna("").astype(str).str.len().max()))
        kinds.append(numeric)
        widths.append(width)
        names += struct.pack(">hhhh8s40s8shhh2s8shhl52s", 1 if numeric else 2, 0, width, i + 1,
                             col.ljust(8).encode(), b" " * 40, b" " * 8, 0, 0, 0, b"  ", b" " * 8, 0, 0, pos, b"\x00" * 52)
        pos += width
    names += b" " * (-len(names) % 80)
    out.append(names)
    out.append(_rec("HEADER RECORD*******OBS     HEADER RECORD!!!!!!!000000000000000000000000000000"))
    data = b""
    for row in df.itertuples(index=False):
        for v, numeric, width in zip(row, kinds, widths):
            data += ibm_float(float(v)) if numeric else ("" if pd.isna(v) else str(v)).encode().ljust(width, b" ")
    data += b" " * (-len(data) % 80)
    out.append(data)
    with open(path, "wb") as fh:
        fh.write(b"".join(out))
