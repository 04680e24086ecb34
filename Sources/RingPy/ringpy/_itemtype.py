"""The type description of a typed ring's items (SPEC.md §19.2), in Python.

A typed ring holds fixed-size items of one type, written in its header as a portable,
normalized description: NumPy's array-interface notation with the byte order always
explicit and every struct offset and size written out, so that every language writes the
same bytes for the same type and descriptions compare as strings::

    >>> describe(np.dtype([("ts", "<i8"), ("px", "<f8"), ("qty", "<i4")], align=True))
    ('{ts:<i8@0,px:<f8@8,qty:<i4@16}24', 8)
    >>> parse("(3)<f4")
    dtype(('<f4', (3,)))
    >>> size_of("{ts:<i8@0,px:<f8@8}16")
    16

This module is the one Python mirror of SPEC.md §19.2, as Sources/RingFormat/ItemType.swift
is Swift's: the same grammar, limits and refusals. A description is parsed into a small tree
(`_Scalar`, `_Array`, `_Struct`) that knows its size and its text; only `parse` and `describe`
touch NumPy, which is imported when they are called, so ``import ringpy`` works without it.
"""

from __future__ import annotations

import re
import sys
from typing import NamedTuple, Tuple, Union

__all__ = ["describe", "parse", "size_of"]

# The limits of SPEC.md §19.1 and §19.2 (the first two are in SPEC.md's constant table).
#: Largest size of a description (itemSize); every number in a description is at most this.
MAX_ITEM_SIZE = 65536
#: Longest description, in bytes.
MAX_TYPE_LENGTH = 512
#: Most levels of nesting: each struct and each sub-array is one level, a scalar none.
MAX_DEPTH = 8
#: Most fields of one struct.
MAX_FIELDS = 64
#: Longest field name, in bytes.
MAX_NAME_LENGTH = 64

#: The sizes each scalar kind may have; None: any size >= 1 (kinds S and V).
_KIND_SIZES = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8), "c": (8, 16),
               "S": None, "V": None}
#: The characters of a field name (its length is checked apart, to say so).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DIGITS = re.compile(r"[0-9]+")
#: NumPy kinds with no description, and why (for the message).
_UNSUPPORTED_KINDS = {"O": "Python objects", "U": "unicode text (use S for bytes)", "M": "datetimes",
                      "m": "timedeltas", "T": "variable-length strings"}


# --- The tree of a description ---------------------------------------------------------


class _Scalar(NamedTuple):
    """order kind size: "<f8", "|u1", "|S16"."""

    order: str
    kind: str
    size: int

    def text(self) -> str:
        return f"{self.order}{self.kind}{self.size}"

    def numpy(self, np):
        return np.dtype(self.text())


class _Array(NamedTuple):
    """A C-order sub-array: "(2,3)<i4"."""

    dims: Tuple[int, ...]
    element: "_Type"
    size: int

    def text(self) -> str:
        return f"({','.join(map(str, self.dims))}){self.element.text()}"

    def numpy(self, np):
        return np.dtype((self.element.numpy(np), self.dims))


class _Field(NamedTuple):
    """name ":" type "@" offset, one field of a struct."""

    name: str
    type: "_Type"
    offset: int

    @property
    def end(self) -> int:
        return self.offset + self.type.size

    def text(self) -> str:
        return f"{self.name}:{self.type.text()}@{self.offset}"


class _Struct(NamedTuple):
    """"{" field ("," field)* "}" size, its fields in increasing offset order."""

    fields: Tuple[_Field, ...]
    size: int

    def text(self) -> str:
        return f"{{{','.join(f.text() for f in self.fields)}}}{self.size}"

    def numpy(self, np):
        return np.dtype({"names": [f.name for f in self.fields],
                         "formats": [f.type.numpy(np) for f in self.fields],
                         "offsets": [f.offset for f in self.fields], "itemsize": self.size})


_Type = Union[_Scalar, _Array, _Struct]


# --- Parsing: text to tree, every rule of SPEC.md §19.2 ----------------------------------


class _Parser:
    """A recursive-descent parser over one description; each method parses one rule of the
    grammar at ``self.at`` and raises ValueError naming the character offset of a fault."""

    __slots__ = ("text", "at")

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def fail(self, why: str, at: Union[int, None] = None) -> ValueError:
        return _invalid(self.text, why, self.at if at is None else at)

    def peek(self) -> str:
        return self.text[self.at:self.at + 1]

    def expect(self, c: str) -> None:
        if self.peek() != c:
            raise self.fail(f"expected {c!r}")
        self.at += 1

    def whole(self) -> _Type:
        """The description: exactly one type, of size 1 to MAX_ITEM_SIZE."""
        if not self.text:
            raise self.fail("empty")
        if len(self.text) > MAX_TYPE_LENGTH:
            raise self.fail(f"{len(self.text)} characters, more than {MAX_TYPE_LENGTH}", 0)
        node = self.type(0)
        if self.at != len(self.text):
            raise self.fail("unexpected text after the type")
        return node

    def type(self, depth: int) -> _Type:
        """type = scalar | array | struct"""
        c = self.peek()
        if c in ("(", "{"):
            if depth >= MAX_DEPTH:
                raise self.fail(f"nested more than {MAX_DEPTH} levels")
            return self.array(depth) if c == "(" else self.struct(depth)
        return self.scalar()

    def number(self, allow_zero: bool = False) -> int:
        """A decimal without a leading zero, 1 to MAX_ITEM_SIZE (0 too with allow_zero)."""
        start = self.at
        m = _DIGITS.match(self.text, start)
        if m is None:
            raise self.fail("expected a number")
        digits = m.group()
        self.at = m.end()
        if len(digits) > 1 and digits[0] == "0":
            raise self.fail("number with a leading zero", start)
        value = int(digits)
        if value > MAX_ITEM_SIZE:
            raise self.fail(f"number larger than {MAX_ITEM_SIZE}", start)
        if value == 0 and not allow_zero:
            raise self.fail("zero where a size or dimension is needed", start)
        return value

    def scalar(self) -> _Scalar:
        """scalar = order kind size, in its canonical form."""
        start = self.at
        order = self.peek()
        if order not in ("<", ">", "|"):
            raise self.fail("expected a type: '<', '>', '|', '(' or '{'")
        self.at += 1
        kind = self.peek()
        if not kind:
            raise self.fail("expected a kind")
        if kind not in _KIND_SIZES:
            raise self.fail(f"unknown kind {kind!r} (b, i, u, f, c, S or V)")
        self.at += 1
        size = self.number()
        sizes = _KIND_SIZES[kind]
        if sizes is not None and size not in sizes:
            raise self.fail(f"kind {kind!r} has no size {size} (only {', '.join(map(str, sizes))})", start)
        # Canonical order: "|" for size 1 and for S and V, "<" or ">" otherwise.
        bar = size == 1 or sizes is None
        if bar and order != "|":
            raise self.fail(f"byte order {order!r} on a type without one (write '|{kind}{size}')", start)
        if not bar and order == "|":
            raise self.fail(f"'|' on a type of several bytes (write '<{kind}{size}' or '>{kind}{size}')", start)
        return _Scalar(order, kind, size)

    def array(self, depth: int) -> _Array:
        """array = "(" dim ("," dim)* ")" type"""
        start = self.at
        self.expect("(")
        dims = [self.number()]
        count = dims[0]
        while self.peek() == ",":
            self.at += 1
            dims.append(self.number())
            count *= dims[-1]
            if count > MAX_ITEM_SIZE:
                raise self.fail(f"sub-array of more than {MAX_ITEM_SIZE} elements", start)
        self.expect(")")
        element = self.type(depth + 1)
        size = count * element.size
        if size > MAX_ITEM_SIZE:
            raise self.fail(f"sub-array of {size} bytes, more than {MAX_ITEM_SIZE}", start)
        return _Array(tuple(dims), element, size)

    def struct(self, depth: int) -> _Struct:
        """struct = "{" field ("," field)* "}" size; fields in increasing offset order, no
        overlap, each within the struct."""
        self.expect("{")
        fields = []
        names = set()
        while True:
            field_at = self.at
            name = self.name()
            if name in names:
                raise self.fail(f"field name {name!r} repeated", field_at)
            names.add(name)
            self.expect(":")
            node = self.type(depth + 1)
            self.expect("@")
            field = _Field(name, node, self.number(allow_zero=True))
            if fields and field.offset < fields[-1].end:
                raise self.fail(f"field {name!r} starts at byte {field.offset}, before field {fields[-1].name!r} "
                                f"ends at byte {fields[-1].end} (fields are in increasing offset order, without "
                                f"overlap)", field_at)
            fields.append(field)
            if len(fields) > MAX_FIELDS:
                raise self.fail(f"more than {MAX_FIELDS} fields in a struct", field_at)
            if self.peek() != ",":
                break
            self.at += 1
        self.expect("}")
        size_at = self.at
        size = self.number()
        if fields[-1].end > size:
            raise self.fail(f"field {fields[-1].name!r} ends at byte {fields[-1].end}, past the struct's size "
                            f"{size}", size_at)
        return _Struct(tuple(fields), size)

    def name(self) -> str:
        """name = [A-Za-z_][A-Za-z0-9_]*, 1 to MAX_NAME_LENGTH bytes."""
        m = _NAME.match(self.text, self.at)
        if m is None:
            raise self.fail("expected a field name")
        if len(m.group()) > MAX_NAME_LENGTH:
            raise self.fail(f"field name longer than {MAX_NAME_LENGTH} characters")
        self.at = m.end()
        return m.group()


def _invalid(description, why: str, at: int) -> ValueError:
    """The error for a description that breaks SPEC.md §19.2 at character offset ``at``."""
    shown = repr(description) if len(description) <= 80 else repr(description[:80]) + "..."
    return ValueError(f"type description {shown}: {why} at offset {at} (SPEC.md §19.2)")


def _parse_tree(description: Union[str, bytes]) -> _Type:
    """The tree of a description (bytes are its ASCII bytes, as in the ring's header)."""
    if isinstance(description, (bytes, bytearray)):
        try:
            description = description.decode("ascii")
        except UnicodeDecodeError as e:
            raise _invalid(bytes(description), "a byte that is not ASCII", e.start) from None
    elif not isinstance(description, str):
        raise TypeError(f"a type description is a str, not {type(description).__name__}")
    if not description.isascii():
        first = next(i for i, c in enumerate(description) if not c.isascii())
        raise _invalid(description, "a character that is not ASCII", first)
    return _Parser(description).whole()


# --- NumPy dtypes to trees ---------------------------------------------------------------


def _tree_of(dt, top, path: str) -> _Type:
    """The tree of NumPy dtype ``dt`` (a part of ``top`` at ``path``), before the rules of the
    text are checked; TypeError for what no description can say."""

    def refuse(why: str) -> TypeError:
        part = f"field {path!r} ({dt!r}): " if path else ""
        return TypeError(f"unsupported dtype {top!r}: {part}{why} (SPEC.md §19.2)")

    if dt.kind in _UNSUPPORTED_KINDS:
        raise refuse(f"kind {dt.kind!r}, {_UNSUPPORTED_KINDS[dt.kind]}, has no portable description")
    if dt.itemsize == 0:
        raise refuse("a type of no bytes (itemsize 0)")
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        return _Array(tuple(shape), _tree_of(base, top, path), dt.itemsize)
    if dt.names is not None:
        if not dt.names:
            raise refuse(f"a struct with no fields (write '|V{dt.itemsize}' for opaque bytes)")
        fields = []
        for name in dt.names:
            field_path = f"{path}.{name}" if path else name
            entry = dt.fields[name]
            if len(entry) > 2:
                raise refuse(f"field {name!r} has a title ({entry[2]!r}); descriptions have names only")
            if not _NAME.fullmatch(name):
                raise refuse(f"field name {name!r} is not [A-Za-z_][A-Za-z0-9_]*")
            fields.append(_Field(name, _tree_of(entry[0], top, field_path), entry[1]))
        return _Struct(tuple(sorted(fields, key=lambda f: f.offset)), dt.itemsize)
    if dt.kind not in _KIND_SIZES:
        raise refuse(f"kind {dt.kind!r} has no description")
    order = dt.byteorder
    if order == "=":
        # SPEC.md §19.2: a little-endian host writes "<" for native types.
        if sys.byteorder != "little":
            raise refuse("native byte order on a big-endian host (give '>' explicitly)")
        order = "<"
    if dt.itemsize == 1 or _KIND_SIZES[dt.kind] is None:
        order = "|"
    return _Scalar(order, dt.kind, dt.itemsize)


# --- The API --------------------------------------------------------------------------------


def describe(dtype) -> Tuple[str, int]:
    """The type description (SPEC.md §19.2) of a NumPy dtype, and the item alignment.

    ``dtype`` is anything ``numpy.dtype()`` accepts. Returns ``(description, alignment)``:
    the canonical description (native byte order written as ``<``, size-1 scalars and the
    kinds S and V as ``|``, struct fields in offset order) and ``dtype.alignment``, the
    itemAlignment of a typed ring of these items (1 for a packed struct).

    Raises TypeError for a dtype no description can say, naming it and why: objects,
    unicode, datetimes, long doubles (only f2, f4, f8, c8, c16), zero-size types, titles,
    field names outside [A-Za-z_][A-Za-z0-9_]{0,63}, overlapping fields, more than 8 levels
    of nesting or 64 fields, a size over 65536 bytes or a description over 512 bytes; and
    on a big-endian host for native byte order.
    """
    import numpy as np

    dt = np.dtype(dtype)
    text = _tree_of(dt, dt, "").text()
    try:
        _parse_tree(text)
    except ValueError as e:
        raise TypeError(f"unsupported dtype {dt!r}: {e}") from None
    return text, dt.alignment


def parse(description: Union[str, bytes]):
    """The NumPy dtype of a type description (SPEC.md §19.2): the inverse of describe.

    ``parse(describe(dt)[0]) == dt`` for every dtype describe accepts whose struct fields
    are in offset order (a struct comes back with its fields in offset order). Structs are
    built with explicit offsets and itemsize, not NumPy's ``align=True``: the ring carries
    the alignment apart (itemAlignment).

    Raises ValueError for a description that breaks a rule of SPEC.md §19.2 (the message
    says which, and at what character offset) and TypeError for one that is neither str
    nor bytes.
    """
    tree = _parse_tree(description)
    import numpy as np

    return tree.numpy(np)


def size_of(description: Union[str, bytes]) -> int:
    """The size in bytes of a type description (SPEC.md §19.2), which a typed ring's
    itemSize must equal; needs no NumPy. Raises ValueError as parse does."""
    return _parse_tree(description).size
