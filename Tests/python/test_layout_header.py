"""ringtools.py's copy of the layout (SPEC.md §1.3, §3, §6.1) agrees with the C layout
header, Sources/CRingABI/include/ringformat_layout.h, and that header with SPEC.md's
tables. Needs no ringpy: it reads text files only."""

from __future__ import annotations

import re
import struct

import pytest

import ringtools
from ringtools import ROOT

LAYOUT_HEADER = ROOT / "Sources" / "CRingABI" / "include" / "ringformat_layout.h"
SPEC = ROOT / "SPEC.md"

#: ringtools.FIELDS names that are not the UPPER_SNAKE of their SPEC.md name.
FIELD_NAMES = {"checksum": "HEADER_CHECKSUM", "record_length": "LENGTH", "record_kind": "KIND",
               "record_index": "INDEX"}


def header_defines() -> dict[str, int]:
    """`#define RING_NAME value` of the layout header, as NAME -> int (suffixes U, L dropped)."""
    defines = {}
    for line in LAYOUT_HEADER.read_text().splitlines():
        m = re.match(r"\s*#\s*define\s+RING_(\w+)\s+(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b", line)
        if m:
            assert m.group(1) not in defines, f"RING_{m.group(1)} defined twice"
            defines[m.group(1)] = int(m.group(2), 0)
    return defines


def spec_tables() -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """SPEC.md's constant table (name -> value) and field tables (name -> (offset, size)); the
    fields of the reader-slot table (§17.4) are named SLOT_<name>, and those of the producer-slot
    table (§18.2: Offset, Size, Field "`name` (type)", ...) PSLOT_<name>, as the header names them."""
    constants, fields, columns, section = {}, {}, None, ""
    for line in SPEC.read_text().splitlines():
        if line.startswith("#"):
            section = line
        if section.startswith(("## 23.", "### 23.", "## 24.", "### 24.")):
            continue  # the wire format and the bridge (§23, §24): frames, not the file ringformat_layout.h mirrors
        if not line.startswith("|"):
            columns = None
            continue
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if columns is None:
            columns = cells
        elif set("".join(cells)) <= set("-: "):
            continue
        elif columns[:3] == ["Constant", "Value", "Meaning"]:
            constants[cells[0]] = int(cells[1], 0)
        elif columns[:4] == ["Offset", "Size", "Type", "Field"] and cells[0].isdigit():
            slot = section.startswith("### 17.4")
            fields[("SLOT_" if slot else "") + cells[3]] = (int(cells[0]), int(cells[1]))
        elif columns[:3] == ["Offset", "Size", "Field"] and section.startswith("### 18.2") and cells[0].isdigit():
            fields["PSLOT_" + cells[2].split("`")[0]] = (int(cells[0]), int(cells[1]))
    return constants, fields


def upper_snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).upper()


DEFINES = header_defines()


def test_the_header_has_the_layout():
    assert len(DEFINES) >= 60, f"only {len(DEFINES)} RING_ defines in {LAYOUT_HEADER.name}"


@pytest.mark.parametrize("name", sorted(ringtools.FIELDS))
def test_ringtools_field_matches_the_header(name):
    offset, fmt = ringtools.FIELDS[name]
    key = FIELD_NAMES.get(name, name.upper())
    assert (offset, struct.calcsize(fmt)) == (DEFINES[f"OFFSET_{key}"], DEFINES[f"SIZE_{key}"]), name


def test_every_header_field_is_in_ringtools():
    in_header = {k[len("OFFSET_"):] for k in DEFINES if k.startswith("OFFSET_")}
    in_ringtools = {FIELD_NAMES.get(n, n.upper()) for n in ringtools.FIELDS}
    assert in_header == in_ringtools


def test_ringtools_constants_match_the_header():
    assert int.from_bytes(ringtools.MAGIC_BYTES, "little") == DEFINES["MAGIC"]
    assert ringtools.HEADER_SIZE == DEFINES["DEFAULT_HEADER_SIZE"]
    assert ringtools.CHECKSUM_COVERED_BYTES == DEFINES["CHECKSUM_COVERED_BYTES"]
    assert ringtools.RECORD_KIND_MESSAGE == DEFINES["RECORD_KIND_MESSAGE"]
    assert ringtools.RECORD_KIND_PADDING == DEFINES["RECORD_KIND_PADDING"]
    assert ringtools.MAX_MESSAGE_SIZE_LIMIT == DEFINES["MAX_MESSAGE_SIZE_LIMIT"]
    assert ringtools.align8(1) == DEFINES["RECORD_ALIGNMENT"] == DEFINES["RECORD_HEADER_SIZE"]


def test_the_header_matches_spec_tables():
    constants, fields = spec_tables()
    assert len(constants) >= 20 and len(fields) >= 20
    expected = dict(constants)
    for name, (offset, size) in fields.items():
        if name.startswith(("SLOT_", "PSLOT_")):
            table, field = name.split("_", 1)
            expected[f"{table}_OFFSET_{upper_snake(field)}"] = offset
            expected[f"{table}_SIZE_{upper_snake(field)}"] = size
            continue
        expected[f"OFFSET_{upper_snake(name)}"] = offset
        expected[f"SIZE_{upper_snake(name)}"] = size
    assert DEFINES == expected
