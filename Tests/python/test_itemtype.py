"""SPEC.md §19.2, the type description of a typed ring's items: ringpy._itemtype's describe,
parse and size_of. Round trips of every kind and size, SPEC.md's own examples, random
structured dtypes (hypothesis), every invalid form (ValueError with its offset) and every
unsupported dtype (TypeError). Needs NumPy; not the native module."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ringtools import ROOT
from test_layout_header import spec_tables

np = pytest.importorskip("numpy")

from ringpy import _itemtype  # noqa: E402
from ringpy._itemtype import describe, parse, size_of  # noqa: E402

SPEC = ROOT / "SPEC.md"


def spec_section(title: str) -> str:
    """The text of one '### ' section of SPEC.md."""
    text = SPEC.read_text()
    start = text.index(f"### {title}")
    end = text.find("\n#", start + 4)
    return text[start:end]


def round_trip(dt) -> str:
    """describe(dt), checked: parse gives dt back, size_of its size, and describing the parsed
    dtype gives the same text and alignment."""
    dt = np.dtype(dt)
    text, alignment = describe(dt)
    assert alignment == dt.alignment
    back = parse(text)
    assert back == dt, f"{text!r} parsed to {back!r}, not {dt!r}"
    assert back.itemsize == dt.itemsize and size_of(text) == dt.itemsize
    assert describe(back)[0] == text
    if dt.names is not None:
        assert back.names == dt.names
        assert [back.fields[n][1] for n in back.names] == [dt.fields[n][1] for n in dt.names]
    return text


# --- The limits are SPEC.md's ----------------------------------------------------------------


def test_limits_are_the_spec_constants_and_section_19_2():
    constants, _ = spec_tables()
    assert _itemtype.MAX_ITEM_SIZE == constants["MAX_ITEM_SIZE"]
    assert _itemtype.MAX_TYPE_LENGTH == constants["MAX_TYPE_LENGTH"]
    section = spec_section("19.2")
    depth, fields = map(int, re.search(r"at most (\d+) levels, so .*? at most (\d+) fields per struct",
                                       " ".join(section.split())).groups())
    assert (_itemtype.MAX_DEPTH, _itemtype.MAX_FIELDS) == (depth, fields)
    name_length = int(re.search(r"name\s+=.*?1 to (\d+) bytes", section).group(1))
    assert _itemtype.MAX_NAME_LENGTH == name_length


# --- Scalars ------------------------------------------------------------------------------------

MULTI_BYTE = [("i", 2), ("i", 4), ("i", 8), ("u", 2), ("u", 4), ("u", 8), ("f", 2), ("f", 4), ("f", 8),
              ("c", 8), ("c", 16)]


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("kind,size", MULTI_BYTE)
def test_multi_byte_scalars_keep_their_byte_order(kind, size, order):
    assert round_trip(f"{order}{kind}{size}") == f"{order}{kind}{size}"


@pytest.mark.parametrize("kind,size", MULTI_BYTE)
def test_native_byte_order_is_written_little_endian(kind, size):
    assert sys.byteorder == "little", "these expectations are a little-endian host's"
    for native in ("=", ""):  # NumPy's dtype strings have no "@" (PEP 3118 buffer formats do)
        assert round_trip(f"{native}{kind}{size}") == f"<{kind}{size}"
    assert round_trip(np.dtype(f"<{kind}{size}").newbyteorder("=")) == f"<{kind}{size}"


@pytest.mark.parametrize("spelling,expected", [
    ("i1", "|i1"), ("<i1", "|i1"), (">i1", "|i1"), ("u1", "|u1"), (">u1", "|u1"), ("?", "|b1"), ("b1", "|b1"),
    ("S1", "|S1"), ("S7", "|S7"), (">S3", "|S3"), ("V1", "|V1"), ("V16", "|V16"), ("V65536", "|V65536"),
])
def test_size_one_and_byte_kinds_have_no_byte_order(spelling, expected):
    assert round_trip(spelling) == expected


@pytest.mark.parametrize("spelling", ["l", "q", "p", "intp", "int64", "longlong"])
def test_platform_sized_integers_get_their_byte_size(spelling):
    dt = np.dtype(spelling)
    assert round_trip(dt) == f"<i{dt.itemsize}"


def test_every_valid_scalar_parses_to_its_dtype():
    for kind, sizes in [("b", [1]), ("i", [1, 2, 4, 8]), ("u", [1, 2, 4, 8]), ("f", [2, 4, 8]), ("c", [8, 16]),
                        ("S", [1, 2, 100]), ("V", [1, 3, 65536])]:
        for size in sizes:
            orders = "|" if size == 1 or kind in "bSV" else "<>"
            for order in orders:
                text = f"{order}{kind}{size}"
                assert parse(text) == np.dtype(text) and parse(text).itemsize == size == size_of(text)
                assert describe(parse(text))[0] == text


# --- SPEC.md's examples -------------------------------------------------------------------------

QUOTE = [("ts", "<i8"), ("px", "<f8"), ("qty", "<i4")]


@pytest.mark.parametrize("dtype,text,alignment", [
    (np.float64, "<f8", 8), (np.uint8, "|u1", 1), (np.complex64, "<c8", 4), (np.bool_, "|b1", 1),
    ("V16", "|V16", 1), (np.dtype(QUOTE, align=True), "{ts:<i8@0,px:<f8@8,qty:<i4@16}24", 8),
    (np.dtype(QUOTE), "{ts:<i8@0,px:<f8@8,qty:<i4@16}20", 1), (("<f4", (3,)), "(3)<f4", 4),
    (("<f8", (3,)), "(3)<f8", 8), (("<i4", (2, 3)), "(2,3)<i4", 4), (np.dtype("=l"), "<i8", 8),
])
def test_the_examples_of_section_19_2(dtype, text, alignment):
    assert describe(dtype) == (text, alignment)
    assert round_trip(dtype) == text


def test_every_description_quoted_in_section_19_2_is_valid():
    quoted = [q for q in re.findall(r"`([^`\s]+)`", spec_section("19.2")) if len(q) > 1 and q[0] in "<>|({"]
    quoted += re.findall(r'"([^"\s]{2,})"', spec_section("19.2"))  # the grammar's own examples
    assert {"<f8", "|u1", "{ts:<i8@0,px:<f8@8,qty:<i4@16}24", "(2,3)<i4"} <= set(quoted)
    for text in quoted:
        assert describe(parse(text))[0] == text


# --- Structs and sub-arrays ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype,text", [
    (np.dtype([("a", "|u1"), ("b", "<i4")], align=True), "{a:|u1@0,b:<i4@4}8"),
    (np.dtype([("a", "|u1"), ("b", "<i4")]), "{a:|u1@0,b:<i4@1}5"),
    (np.dtype([("a", ">f8"), ("b", "<f8")]), "{a:>f8@0,b:<f8@8}16"),
    (np.dtype({"names": ["a", "b"], "formats": ["<i2", "<i2"], "offsets": [0, 8], "itemsize": 16}),
     "{a:<i2@0,b:<i2@8}16"),  # gaps and trailing bytes are padding
    (np.dtype([("v", "<f4", (3,)), ("n", "|u1")], align=True), "{v:(3)<f4@0,n:|u1@12}16"),
    (np.dtype([("m", "<f8", (2, 2)), ("tag", "S5")]), "{m:(2,2)<f8@0,tag:|S5@32}37"),
    (np.dtype([("q", np.dtype(QUOTE, align=True)), ("side", "|i1")], align=True),
     "{q:{ts:<i8@0,px:<f8@8,qty:<i4@16}24@0,side:|i1@24}32"),
    (np.dtype([("book", np.dtype([("p", "<f8"), ("q", "<f8")]), (2, 3))]),
     "{book:(2,3){p:<f8@0,q:<f8@8}16@0}96"),
    (np.dtype((np.dtype([("x", "<i2"), ("y", "<i2")]), (4,))), "(4){x:<i2@0,y:<i2@2}4"),
    (np.dtype((np.dtype(("<f4", (3,))), (2,))), "(2)(3)<f4"),  # NumPy keeps a sub-array of sub-arrays
    (np.dtype([("_", "V3"), ("Z9_z", "?")]), "{_:|V3@0,Z9_z:|b1@3}4"),
])
def test_structs_and_sub_arrays(dtype, text):
    assert round_trip(dtype) == text


def test_struct_fields_are_written_in_offset_order():
    dt = np.dtype({"names": ["late", "early"], "formats": ["<f8", "<i4"], "offsets": [8, 0], "itemsize": 16})
    text, alignment = describe(dt)
    assert text == "{early:<i4@0,late:<f8@8}16" and alignment == dt.alignment
    back = parse(text)
    assert back.names == ("early", "late")
    assert {n: back.fields[n][:2] for n in back.names} == {n: dt.fields[n][:2] for n in dt.names}


def test_the_deepest_and_the_longest_descriptions_allowed():
    deepest = "|u1"
    for level in range(_itemtype.MAX_DEPTH):
        deepest = f"{{a:{deepest}@0}}1" if level % 2 else f"(1){deepest}"
    assert size_of(deepest) == 1 and describe(parse(deepest))[0] == deepest
    longest = "{" + ",".join(f"f{i:02d}:<f8@{8 * i}" for i in range(40)) + "}320"
    longest = longest.replace("f00", "x" * (_itemtype.MAX_TYPE_LENGTH - len(longest) + 3))
    assert len(longest) == _itemtype.MAX_TYPE_LENGTH
    assert size_of(longest) == 320 and round_trip(parse(longest)) == longest


def test_parse_takes_the_header_bytes_too():
    assert parse(b"{ts:<i8@0,px:<f8@8}16") == parse("{ts:<i8@0,px:<f8@8}16")
    assert size_of(b"(3)<f4") == 12


# --- Random dtypes (hypothesis) -----------------------------------------------------------------

SCALARS = st.sampled_from(["?", "i1", "u1", "<i2", ">i2", "=i4", "<u4", ">u8", "<f2", ">f4", "f8", ">c8",
                           "<c16", "S1", "S6", "V1", "V5"]).map(np.dtype)
_FIRST = "ABCXYZabcxyz_"
NAMES = st.builds(str.__add__, st.sampled_from(_FIRST), st.text(alphabet=_FIRST + "0189", max_size=6))


@st.composite
def structs(draw, children):
    """A struct of 1-5 fields: packed, NumPy-aligned, or with random gaps and trailing padding,
    its fields in offset order."""
    kids = draw(st.lists(children, min_size=1, max_size=5))
    names = draw(st.lists(NAMES, min_size=len(kids), max_size=len(kids), unique=True))
    layout = draw(st.sampled_from(["packed", "aligned", "gaps"]))
    if layout != "gaps":
        return np.dtype(list(zip(names, kids)), align=layout == "aligned")
    offsets, end = [], 0
    for kid in kids:
        end += draw(st.integers(0, 9))
        offsets.append(end)
        end += kid.itemsize
    return np.dtype({"names": names, "formats": kids, "offsets": offsets,
                     "itemsize": end + draw(st.integers(0, 9))})


def sub_arrays(children):
    dims = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
    return st.tuples(children, dims).map(lambda t: np.dtype(t))


DTYPES = st.recursive(SCALARS, lambda children: st.one_of(structs(children), sub_arrays(children)), max_leaves=10)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DTYPES)
def test_random_dtypes_round_trip(dt):
    try:
        text = round_trip(dt)
    except TypeError as e:
        # Only the limits of SPEC.md §19.2 may refuse one of these.
        assert re.search(r"more than 512|nested more than 8|larger than 65536|more than 65536", str(e)), str(e)
        event("over a limit")
        return
    event("struct" if dt.names else "sub-array" if dt.subdtype else "scalar")
    assert len(text) <= 512 and text.isascii() and " " not in text


def describable(dt):
    """describe(dt)'s text, or None for a dtype over a limit."""
    try:
        return describe(dt)[0]
    except TypeError:
        return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(DTYPES.map(describable).filter(bool), st.data())
def test_an_edited_description_is_refused_or_canonical(text, data):
    """Every spelling parse accepts is the one describe writes: each type has one spelling."""
    at = data.draw(st.integers(0, len(text)))
    edit = data.draw(st.sampled_from(["insert", "delete", "replace"]))
    c = data.draw(st.sampled_from(list("<>|bifucSV0123456789(),{}:@_az ")))
    edited = {"insert": text[:at] + c + text[at:], "delete": text[:at] + text[at + 1:],
              "replace": text[:at] + c + text[at + 1:]}[edit]
    try:
        dt = parse(edited)
    except ValueError as e:
        assert re.search(r"at offset \d+ \(SPEC\.md §19\.2\)$", str(e)), str(e)
        event("refused")
        return
    event("accepted")
    assert describe(dt)[0] == edited and size_of(edited) == dt.itemsize


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=40)
       | st.binary(max_size=40))
def test_any_text_is_a_type_or_a_value_error(text):
    try:
        size = size_of(text)
    except ValueError:
        return
    assert describe(parse(text))[0] == (text.decode() if isinstance(text, bytes) else text)
    assert parse(text).itemsize == size


# --- Invalid descriptions: ValueError, saying where -----------------------------------------------

NAME_65 = "n" * 65
TOO_DEEP = "|u1"
for _ in range(9):
    TOO_DEEP = f"(1){TOO_DEEP}"


@pytest.mark.parametrize("text,offset,why", [
    ("", 0, "empty"),
    ("<u1", 0, "byte order '<' on a type without one"), (">i1", 0, "without one"), ("<b1", 0, "without one"),
    ("<S4", 0, "without one"), (">V8", 0, "without one"), ("{a:<u1@0}1", 3, "without one"),
    ("|i4", 0, "'|' on a type of several bytes"), ("|f8", 0, "several bytes"), ("|c16", 0, "several bytes"),
    ("<f3", 0, "kind 'f' has no size 3"), ("<i16", 0, "no size 16"), ("|b2", 0, "no size 2"),
    ("<c4", 0, "no size 4"), ("<f16", 0, "no size 16"), ("<u3", 0, "no size 3"),
    ("<x4", 1, "unknown kind 'x'"), ("<U4", 1, "unknown kind 'U'"), ("<O8", 1, "unknown kind"), ("<", 1, "a kind"),
    ("f8", 0, "expected a type"), ("=f8", 0, "expected a type"), ("@f8", 0, "expected a type"),
    ("<f", 2, "expected a number"), ("<f08", 2, "leading zero"), ("|V016", 2, "leading zero"),
    ("(03)<f4", 1, "leading zero"), ("(3,02)<f4", 3, "leading zero"), ("{a:<i4@00}4", 7, "leading zero"),
    ("{a:<i4@0}04", 9, "leading zero"),
    ("|V0", 2, "zero where a size"), ("|S0", 2, "zero"), ("(0)<f8", 1, "zero"), ("(2,0)<f8", 3, "zero"),
    ("{a:<i4@0}0", 9, "zero"),
    ("|V65537", 2, "larger than 65536"), ("(65537)|u1", 1, "larger than 65536"),
    ("(256,257)|u1", 0, "more than 65536 elements"), ("(300)|V300", 0, "more than 65536"),
    ("{a:<i4@0,b:<i4@2}8", 9, "field 'b' starts at byte 2, before field 'a' ends at byte 4"),
    ("{b:<i4@4,a:<i4@0}8", 9, "field 'a' starts at byte 0, before field 'b' ends at byte 8"),
    ("{a:<i4@0,b:<i4@0}8", 9, "before field 'a' ends"),
    ("{a:<i4@0,b:<i4@4}6", 17, "field 'b' ends at byte 8, past the struct's size 6"),
    ("{a:<i4@0}2", 9, "past the struct's size 2"), ("{a:(3)<i4@0}8", 12, "ends at byte 12"),
    ("{a:<i4@0,a:<i4@4}8", 9, "field name 'a' repeated"),
    ("{1a:<i4@0}4", 1, "expected a field name"), ("{:<i4@0}4", 1, "field name"), ("{}4", 1, "field name"),
    ("{a-b:<i4@0}4", 2, "expected ':'"), ("{é:<i4@0}4", 1, "not ASCII"),
    ("{" + NAME_65 + ":<i4@0}4", 1, "longer than 64"),
    ("{a:<i4@0}", 9, "expected a number"), ("{a:<i4}4", 6, "expected '@'"), ("{a<i4@0}4", 2, "expected ':'"),
    ("{a:<i4@0;b:<i4@4}8", 8, "expected '}'"), ("{a:<i4@0,}8", 9, "field name"),
    ("(3<f4", 2, "expected ')'"), ("()<f4", 1, "expected a number"), ("(3,)<f4", 3, "expected a number"),
    ("(3)", 3, "expected a type"), ("(-3)<f4", 1, "expected a number"),
    ("<f8 ", 3, "unexpected text after the type"), (" <f8", 0, "expected a type"), ("<f8\n", 3, "unexpected"),
    ("<f8<f8", 3, "unexpected"), ("<f8é", 3, "not ASCII"), ("<f8\x00", 3, "unexpected"),
    (TOO_DEEP, 24, "nested more than 8 levels"),
    ("{a:" * 9 + "|u1" + "@0}1" * 9, 24, "nested more than 8 levels"),
    ("(1)" * 171 + "|u1", 0, "516 characters, more than 512"),
    (b"<f8\xff", 3, "a byte that is not ASCII"),
])
def test_an_invalid_description_is_a_value_error_saying_where(text, offset, why):
    for function in (parse, size_of):
        with pytest.raises(ValueError) as caught:
            function(text)
        message = str(caught.value)
        assert why in message and message.endswith(f"at offset {offset} (SPEC.md §19.2)"), message


def test_more_than_64_fields_is_refused():
    # 65 fields cannot fit in 512 characters (a field takes at least 7), so this rule is reached
    # only by the parser's struct rule on its own.
    text = "{" + ",".join(f"f{i}:|u1@{i}" for i in range(65)) + "}65"
    assert len(text) > _itemtype.MAX_TYPE_LENGTH
    with pytest.raises(ValueError, match=f"more than 64 fields in a struct at offset {text.index('f64:')} "):
        _itemtype._Parser(text).type(0)
    sixty_four = "{" + ",".join(f"f{i}:|u1@{i}" for i in range(64)) + "}64"
    assert _itemtype._Parser(sixty_four).type(0).size == 64


def test_a_description_is_str_or_bytes():
    with pytest.raises(TypeError):
        size_of(8)
    with pytest.raises(TypeError):
        parse(None)


# --- Unsupported dtypes: TypeError, naming them -------------------------------------------------


@pytest.mark.parametrize("dtype,why", [
    ("O", "kind 'O'"), ("U3", "kind 'U'"), ("M8[ns]", "kind 'M'"), ("m8[s]", "kind 'm'"),
    ("V0", "itemsize 0"), ("S0", "itemsize 0"), (("<f8", (0,)), "itemsize 0"),
    ("V65537", "larger than 65536"), (("<f8", (8193,)), "more than 65536"),
    (np.dtype([("a", "<i4"), ("b", "O")]), "field 'b' (dtype('O')): kind 'O'"),
    (np.dtype([("p", [("q", "U2")])]), "field 'p.q' (dtype('<U2'))"),
    (np.dtype([("a", "<i4"), ("b", "M8[s]", (2,))]), "field 'b'"),
    (np.dtype({"names": ["a", "b"], "formats": ["<i4", "<i4"], "offsets": [0, 2], "itemsize": 8}),
     "field 'b' starts at byte 2, before field 'a' ends"),
    (np.dtype({"names": ["a", "b"], "formats": ["<i4", "<i2"], "offsets": [0, 0], "itemsize": 4}), "before field"),
    (np.dtype([(("a title", "a"), "<i4")]), "title"),
    (np.dtype([("a b", "<i4")]), "field name 'a b'"), (np.dtype([("1a", "<i4")]), "field name '1a'"),
    (np.dtype([("é", "<i4")]), "field name"), (np.dtype([("x" * 65, "<i4")]), "longer than 64"),
    (np.dtype([(f"field{i}", "<f8") for i in range(40)]), "more than 512"),
    (np.dtype({"names": [], "formats": [], "itemsize": 8}), "no fields"),
])
def test_an_unsupported_dtype_is_a_type_error_naming_it(dtype, why):
    dt = np.dtype(dtype)
    with pytest.raises(TypeError) as caught:
        describe(dt)
    message = str(caught.value)
    assert message.startswith(f"unsupported dtype {dt!r}") and why in message, message


def test_a_long_double_is_unsupported():
    for spelling, double_size in (("g", 8), ("G", 16)):
        dt = np.dtype(spelling)
        if dt.itemsize == double_size:
            continue  # a long double that is a double (some platforms): it is an f8 or c16
        with pytest.raises(TypeError, match=r"no size"):
            describe(dt)


def test_nine_levels_are_unsupported():
    dt = np.dtype("<f8")
    for _ in range(9):
        dt = np.dtype([("a", dt)])
    with pytest.raises(TypeError, match="nested more than 8 levels"):
        describe(dt)
    assert describe(dt.fields["a"][0])[0].count("{") == 8


def test_a_variable_length_string_is_unsupported():
    string_dtype = getattr(getattr(np, "dtypes", None), "StringDType", None)
    if string_dtype is None:
        pytest.skip("this NumPy has no StringDType")
    with pytest.raises(TypeError, match="kind 'T'"):
        describe(string_dtype())


def test_native_byte_order_on_a_big_endian_host_is_refused(monkeypatch):
    monkeypatch.setattr(_itemtype, "sys", types.SimpleNamespace(byteorder="big"))
    with pytest.raises(TypeError, match="big-endian host"):
        describe(np.dtype("=f8"))
    with pytest.raises(TypeError, match=r"field 'a'.*big-endian host"):
        describe(np.dtype([("a", "=i4")]))
    assert describe(">f8")[0] == ">f8" and describe(np.dtype("<f8").newbyteorder("<"))[0] == "<f8"
    assert describe("u1")[0] == "|u1" and describe("S4")[0] == "|S4"


# --- Without NumPy ------------------------------------------------------------------------------


def test_size_of_works_without_numpy():
    import ringpy

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(ringpy.__file__)))
    script = (
        "import sys\n"
        "sys.modules['numpy'] = None\n"  # import numpy now raises ImportError
        f"sys.path.insert(0, {package_parent!r})\n"
        "from ringpy import _itemtype\n"
        "assert _itemtype.size_of('{ts:<i8@0,px:<f8@8,qty:<i4@16}24') == 24\n"
        "try:\n"
        "    _itemtype.size_of('<u1')\n"
        "except ValueError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('<u1 accepted')\n"
        "try:\n"
        "    _itemtype.parse('<f8')\n"
        "except ImportError:\n"
        "    print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
