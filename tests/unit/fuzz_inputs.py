"""Hostile inputs for tests/unit/test_fuzz.py.

Four families, each built to reach a different part of the decoder and the policy engine:
- JSON tokens that are legal, borderline or broken (non-finite and huge numbers, deep nesting,
  surrogates, invalid UTF-8, duplicate keys), to be spliced into any field of a valid batch;
- schema-shaped events with random mutations (fields dropped, inserted, retyped, out of range);
- planted secrets of every detector, disguised the way evaders and odd keyboards do it;
- regex-adversarial texts for every detector pattern in ilake_contract.redact.
"""

from __future__ import annotations

import base64
import json
import re
import string
from dataclasses import dataclass
from typing import Any

import phonenumbers
from hypothesis import assume
from hypothesis import strategies as st

from ilake_contract.schema import EVENT_TYPES
from tests.corpus.secrets import iban_for, luhn_complete
from tests.support.builders import RECEIVED_AT_MS, make_batch, make_event

DAY_MS = 86_400_000

# --- JSON tokens spliced into a field -------------------------------------------------------------

CANARY = "jane.roe@example.com"
UUID = "0b7e1a5e-3a1c-4d39-9d67-7a5b3e1e2f11"

# A raw JSON token (bytes: some are not valid UTF-8 on purpose) for every borderline value.
LITERALS: dict[str, bytes] = {
    "nan": b"NaN",
    "infinity": b"Infinity",
    "minus-infinity": b"-Infinity",
    "float-overflow": b"1e400",
    "float-underflow": b"1e-400",
    "negative-float-overflow": b"-1e400",
    "int-400-digits": b"1" + b"0" * 400,
    "negative-int-400-digits": b"-1" + b"0" * 400,
    "int-2^63": str(2**63).encode(),
    "int-2^64": str(2**64).encode(),
    "int-minus-2^63-1": str(-(2**63) - 1).encode(),
    "minus-zero": b"-0",
    "float-for-int": b"1.5",
    "exponent-int": b"1E2",
    "true": b"true",
    "false": b"false",
    "null": b"null",
    "empty-string": b'""',
    "empty-list": b"[]",
    "empty-object": b"{}",
    "list-of-strings": json.dumps([CANARY]).encode(),
    "object": json.dumps({"a": {"b": CANARY}}).encode(),
    "nested-1000": b"[" * 1000 + b"]" * 1000,
    "nested-objects-1000": b'{"a":' * 1000 + b"1" + b"}" * 1000,
    "nested-100k-unclosed": b"[" * 100_000,
    "string-over-every-cap": b'"' + b"a" * (2**20 + 1) + b'"',
    "canary-string": json.dumps(CANARY).encode(),
    "lone-high-surrogate": b'"\\ud800"',
    "lone-low-surrogate": b'"x\\udc00y"',
    "reversed-surrogates": b'"\\udc00\\ud800"',
    "surrogate-pair": b'"\\ud83d\\ude00"',
    "escaped-nul": b'"a\\u0000b"',
    "raw-control-byte": b'"a\x01b"',
    "rtl-override": b'"\\u202etxt.exe"',
    "zero-width": b'"\\u200b\\u200c\\u200d"',
    "bom": b'"\\ufeff"',
    "noncharacter": b'"\\uffff\\ufffe"',
    "private-use": b'"\\ue000"',
    "astral-raw-utf8": '"\U0001f600\U000e0041"'.encode(),  # emoji and a tag character
    "invalid-utf8": b'"\xff\xfe"',
    "overlong-utf8": b'"\xc0\xaf"',
    "utf8-encoded-surrogate": b'"\xed\xa0\x80"',
    "truncated-utf8": b'"\xe2\x82"',
    "uuid-upper": json.dumps(UUID.upper()).encode(),
    "uuid-braces": json.dumps("{" + UUID + "}").encode(),
    "uuid-urn": json.dumps("urn:uuid:" + UUID).encode(),
    "uuid-no-dashes": json.dumps(UUID.replace("-", "")).encode(),
}

# Where a literal goes: (event type, path). Type None means the envelope.
FIELD_PATHS: list[tuple[str | None, tuple[str, ...]]] = [
    (None, ("schema",)),
    (None, ("batch_id",)),
    (None, ("sent_at",)),
    (None, ("agent",)),
    (None, ("agent", "version")),
    (None, ("agent", "os")),
    (None, ("agent", "os_version")),
    (None, ("agent", "extra")),
    (None, ("events",)),
    (None, ("extra",)),
    *(
        ("pointer.click", (name,))
        for name in (
            "event_id", "type", "ts", "seq", "session_id", "subject", "device_id", "app",
            "window", "display", "x", "y", "button", "clicks", "target", "extra",
        )
    ),
    *(("pointer.click", ("app", name)) for name in ("name", "bundle_id", "extra")),
    *(("pointer.click", ("window", name)) for name in ("title", "url", "extra")),
    *(("pointer.click", ("display", name)) for name in ("w", "h", "scale", "extra")),
    *(("pointer.click", ("target", name)) for name in ("role", "name", "automation_id")),
    ("pointer.drag", ("x2",)),
    ("pointer.drag", ("y2",)),
    ("pointer.scroll", ("dx",)),
    ("pointer.scroll", ("dy",)),
    ("key.shortcut", ("modifiers",)),
    ("key.shortcut", ("modifiers", 0)),
    ("key.shortcut", ("key",)),
    ("key.press", ("key",)),
    ("text.input", ("text",)),
    ("menu.select", ("menu_path",)),
    ("menu.select", ("menu_path", 0)),
    ("clipboard", ("op",)),
    ("clipboard", ("mime",)),
    ("clipboard", ("length",)),
    ("clipboard", ("content",)),
    ("capture.pause", ("reason",)),
]  # fmt: skip

_HOLE = "__FUZZ_HOLE__"


def _set(obj: Any, path: tuple[str | int, ...], value: Any) -> None:
    for step in path[:-1]:
        obj = obj.setdefault(step, {}) if isinstance(obj, dict) else obj[step]
    if isinstance(obj, list):
        obj[int(path[-1])] = value
    else:
        obj[path[-1]] = value


def spliced(etype: str | None, path: tuple[str | int, ...], literal: bytes) -> bytes:
    """A valid two-event batch with `literal` as the raw JSON at `path` of its first event (or
    of the envelope). The second event is clean: it must survive whatever the first one holds.
    Both carry the canary, so an echo of submitted content anywhere is seen."""
    # a deep copy: make_event shares its list defaults (modifiers, menu_path) between events
    fuzzed = json.loads(json.dumps(make_event(etype or "pointer.click", window={"title": CANARY})))
    fuzzed.setdefault("target", {"role": "button", "name": CANARY})
    clean = make_event("key.press", window={"title": CANARY})
    batch = make_batch([fuzzed, clean])
    _set(fuzzed if etype else batch, path, _HOLE)
    body = json.dumps(batch).encode()
    assert body.count(f'"{_HOLE}"'.encode()) == 1
    return body.replace(f'"{_HOLE}"'.encode(), literal)


def with_duplicate_key(event: dict[str, Any], key: str, value: Any) -> bytes:
    """The event's JSON with `key` repeated at the end (JSON allows it; parsers disagree)."""
    body = json.dumps(event).encode()
    return body[:-1] + b", " + json.dumps(key).encode() + b": " + json.dumps(value).encode() + b"}"


def batch_with_raw_events(raw_events: list[bytes]) -> bytes:
    head = json.dumps(make_batch([])).encode()
    assert head.endswith(b'"events": []}')
    return head[: -len(b"[]}")] + b"[" + b", ".join(raw_events) + b"]}"


# --- schema-shaped events with mutations ----------------------------------------------------------

# Arbitrary JSON values (finite floats only: non-finite literals are a batch-level 400, covered by
# LITERALS) for inserted and retyped fields.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)

# Free text the fuzzer puts in text fields: any encodable character plus controls, invisible and
# right-to-left marks, combining marks and NFKC expanders. (st.text() never yields lone
# surrogates; their JSON escapes are in LITERALS.)
text_values = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("\u200b\u200d\u202e\u2066\ufeff\x00\x7f\u0301\ufdfa@.-:/\\ "),
    ),
    max_size=40,
)

APP_NAMES = ["Visual Studio Code", "Excel", "Firefox", "Terminal", "Finder", "Notepad++"]
DENIED_APPS = ["Slack", "1Password 8", "Microsoft Teams", "Bitwarden"]
NAMED_KEYS = ["Enter", "Tab", "Escape", "ArrowUp", "F5", "Backspace", "PageDown"]
MODIFIERS = ["ctrl", "alt", "shift", "meta"]

# Ranges each numeric field accepts, for out-of-range mutations.
NUMERIC_FIELDS = {
    "ts": (946_684_800_000, 4_102_444_800_000),
    "seq": (0, 2**53),
    "x": (-1_000_000, 1_000_000),
    "y": (-1_000_000, 1_000_000),
    "x2": (-1_000_000, 1_000_000),
    "y2": (-1_000_000, 1_000_000),
    "dx": (-100_000, 100_000),
    "dy": (-100_000, 100_000),
    "clicks": (1, 5),
    "length": (0, 2**40),
}


@st.composite
def valid_events(draw: st.DrawFn, marker: str) -> dict[str, Any]:
    """A valid event of any type, with `marker` in the subject, typed text and clipboard."""
    etype = draw(st.sampled_from(sorted(EVENT_TYPES)))
    event: dict[str, Any] = {
        "event_id": str(draw(st.uuids())),
        "type": etype,
        "ts": RECEIVED_AT_MS - draw(st.integers(0, 29 * DAY_MS)),
        "seq": draw(st.integers(0, 2**53)),
        "session_id": "s-" + draw(st.text(string.ascii_letters, min_size=1, max_size=8)),
        "subject": f"{marker}-subject",
        "device_id": draw(st.text(min_size=1, max_size=20)),
        "app": {"name": draw(st.sampled_from(APP_NAMES)), "bundle_id": draw(text_values)},
        "window": {"title": draw(text_values), "url": draw(text_values)},
        "display": {
            "w": draw(st.integers(1, 100_000)),
            "h": draw(st.integers(1, 100_000)),
            "scale": draw(st.floats(0.01, 16)),
        },
    }
    event.update(draw(_TYPE_FIELDS[etype](marker)))
    return event


_COORD = st.floats(-1_000_000, 1_000_000)
_DELTA = st.floats(-100_000, 100_000)
_KEY = st.one_of(st.sampled_from(NAMED_KEYS), st.text(min_size=1, max_size=3))
_TARGET = st.fixed_dictionaries(
    {"role": text_values, "name": text_values, "automation_id": st.just("id-1")}
)
# The fields of each type, drawn only for the type drawn.
_TYPE_FIELDS: dict[str, Any] = {
    "pointer.move": lambda m: st.fixed_dictionaries({"x": _COORD, "y": _COORD}),
    "pointer.click": lambda m: st.fixed_dictionaries(
        {
            "x": _COORD,
            "y": _COORD,
            "button": st.sampled_from(["left", "right", "middle", "back", "forward"]),
            "clicks": st.integers(1, 5),
            "target": _TARGET,
        }
    ),
    "pointer.scroll": lambda m: st.fixed_dictionaries(
        {"x": _COORD, "y": _COORD, "dx": _DELTA, "dy": _DELTA}
    ),
    "pointer.drag": lambda m: st.fixed_dictionaries(
        {"x": _COORD, "y": _COORD, "x2": _COORD, "y2": _COORD}
    ),
    "key.shortcut": lambda m: st.fixed_dictionaries(
        {"modifiers": st.lists(st.sampled_from(MODIFIERS), max_size=4, unique=True), "key": _KEY}
    ),
    "key.press": lambda m: st.fixed_dictionaries({"key": _KEY}),
    "text.input": lambda m: st.fixed_dictionaries(
        {"text": text_values.map(lambda t: f"typed {m} {t}"), "target": _TARGET}
    ),
    "menu.select": lambda m: st.fixed_dictionaries(
        {"menu_path": st.lists(text_values, max_size=16), "target": _TARGET}
    ),
    "window.focus": lambda m: st.just({}),
    "clipboard": lambda m: st.fixed_dictionaries(
        {
            "op": st.sampled_from(["copy", "cut", "paste"]),
            "mime": st.sampled_from(["text/plain", "image/png", "TEXT/HTML", "x"]),
            "content": st.just(f"copied {m}"),
        }
    ),
    "capture.pause": lambda m: st.fixed_dictionaries(
        {"reason": st.sampled_from(["user", "idle", "weird reason"])}
    ),
    "capture.resume": lambda m: st.fixed_dictionaries({"reason": text_values}),
}


def _paths(obj: dict[str, Any]) -> list[tuple[str, ...]]:
    found = []
    for key, value in obj.items():
        found.append((key,))
        if isinstance(value, dict):
            found.extend((key, *sub) for sub in _paths(value))
    return found


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        obj = obj[step]
    return obj


def _parent(obj: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    return _get(obj, path[:-1]) if len(path) > 1 else obj


@st.composite
def mutations(draw: st.DrawFn, event: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of `event` with 1-3 random mutations, and their names (for failure messages)."""
    event = json.loads(json.dumps(event))
    done = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["drop", "insert", "retype", "range", "type", "case"]))
        paths = _paths(event)
        path = draw(st.sampled_from(paths)) if paths else ("type",)
        if kind == "drop" and paths:
            _parent(event, path).pop(path[-1], None)
        elif kind == "insert":
            where = draw(
                st.sampled_from([(), *[p for p in paths if isinstance(_get(event, p), dict)]])
            )
            name = draw(st.one_of(st.text(max_size=8), st.sampled_from(["type", "text", "x"])))
            _get(event, where)[name] = draw(json_values)
        elif kind == "retype" and paths:
            _parent(event, path)[path[-1]] = draw(json_values)
        elif kind == "range":
            name = draw(st.sampled_from(sorted(NUMERIC_FIELDS)))
            low, high = NUMERIC_FIELDS[name]
            event[name] = draw(
                st.sampled_from([low - 1, high + 1, -(2**64), 2**64, 10**30, high + 0.5, 1e308])
            )
        elif kind == "type":
            event["type"] = draw(
                st.one_of(st.sampled_from(sorted(EVENT_TYPES)), st.text(max_size=12))
            )
        elif kind == "case" and isinstance(event.get("event_id"), str):
            event["event_id"] = event["event_id"].upper()
        done.append(f"{kind}:{'.'.join(map(str, path))}")
    return event, done


# --- planted secrets and their disguises ----------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    kind: str
    text: str  # as planted (before any disguise)
    needles: tuple[str, ...]  # canonical parts of which no stretch may be stored
    public: str = ""  # a part that may be stored (an address's domain: a URL host is kept)


def grouped(value: str, sep: str, size: int = 4) -> str:
    return sep.join(value[i : i + size] for i in range(0, len(value), size))


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(string.digits, min_size=n, max_size=n)


# Separators people and evaders put between digit groups (after NFKC: spaces, dashes, dots).
DIGIT_SEPARATORS = ["", " ", "-", ".", " - ", "\u2013", "\u2212", "\u00a0", "\u2009", "\u3000"]


@st.composite
def cards(draw: st.DrawFn) -> Planted:
    length = draw(st.sampled_from([13, 15, 16, 16, 19]))
    number = luhn_complete(draw(st.sampled_from("3456")) + draw(_digits(length - 2)))
    sep = draw(st.sampled_from(DIGIT_SEPARATORS))
    return Planted("card", grouped(number, sep), (number,))


@st.composite
def ssns(draw: st.DrawFn) -> Planted:
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    group, serial = draw(st.integers(1, 99)), draw(st.integers(1, 9999))
    sep = draw(st.sampled_from(["-", " ", "", ".", "\u2013", "\u00a0"]))
    compact = f"{area:03d}{group:02d}{serial:04d}"
    if not sep:  # nine digits in a row are an SSN only after a word that says so
        label = draw(st.sampled_from(["SSN ", "ssn: ", "SSN#", "Social Security No. "]))
        return Planted("ssn", label + compact, (compact,))
    return Planted("ssn", sep.join([compact[:3], compact[3:5], compact[5:]]), (compact,))


_PHONE_FORMATS = {
    "international": phonenumbers.PhoneNumberFormat.INTERNATIONAL,  # +44 20 7946 0958
    "e164": phonenumbers.PhoneNumberFormat.E164,  # +442079460958
    "national": phonenumbers.PhoneNumberFormat.NATIONAL,  # 020 7946 0958, (415) 555-2671
}
_PHONE_CUES = ["tel ", "Tel: ", "phone ", "call ", "Mobile: ", "fax "]


@st.composite
def phones(draw: st.DrawFn) -> Planted:
    """A real number of a plan the detector knows (an example number with a new subscriber
    part, kept only if still valid), written the ways people write it."""
    region = draw(st.sampled_from(["US", "GB", "DE", "FR"]))
    kind = draw(
        st.sampled_from(
            [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
        )
    )
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    national = str(example.national_number)
    number = phonenumbers.parse(f"+{example.country_code}{national[:-4]}{draw(_digits(4))}")
    assume(phonenumbers.is_valid_number(number))
    form = draw(st.sampled_from([*_PHONE_FORMATS, "00", "cued"]))
    if form == "cued":  # an unbroken national number after a word that says what it is
        written = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        text = draw(st.sampled_from(_PHONE_CUES)) + "".join(c for c in written if c.isdigit())
    else:
        text = phonenumbers.format_number(
            number, _PHONE_FORMATS.get(form, _PHONE_FORMATS["international"])
        )
        if form == "00":
            text = "00" + text[1:]
        sep = draw(st.sampled_from([" ", "-", ".", "\u2013", "\u00a0"]))
        if sep == "." and text.count(" ") < 2:
            sep = " "  # "07400.121850" is a decimal number: nobody writes a phone that way
        text = text.replace(" ", sep)
    return Planted("phone", text, (str(number.national_number),))


_IBAN_LAYOUTS = [("DE", "n18"), ("GB", "a4n14"), ("FR", "n10c11n2"), ("NL", "a4n10"), ("ES", "n20")]
_ALPHABETS = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + "ABCXYZ"}


@st.composite
def ibans(draw: st.DrawFn) -> Planted:
    country, layout = draw(st.sampled_from(_IBAN_LAYOUTS))
    bban = "".join(
        draw(st.text(_ALPHABETS[kind], min_size=int(n), max_size=int(n)))
        for kind, n in re.findall(r"([nac])(\d+)", layout)
    )
    iban = iban_for(country, bban)
    form = draw(st.sampled_from(["grouped", "compact", "lower", "mixed"]))
    if form == "grouped":
        text = grouped(iban, draw(st.sampled_from(["", " ", "-", "\u00a0"])))
    elif form == "lower":
        text = iban.lower()
    elif form == "mixed":
        text = iban[0] + iban[1].lower() + iban[2:]
    else:
        text = iban
    return Planted("iban", text, (iban[4:],))


_LOCAL = st.from_regex(r"[a-z]{3,8}(?:[._+-][a-z]{3,8})?", fullmatch=True)
_LABEL = st.from_regex(r"[a-z]{3,9}", fullmatch=True)


@st.composite
def emails(draw: st.DrawFn) -> Planted:
    local, domain = draw(_LOCAL), draw(_LABEL) + "." + draw(st.sampled_from(["com", "org", "de"]))
    case = draw(st.sampled_from([str.lower, str.upper, str.title, str.swapcase]))
    local, domain = case(local), case(domain)
    at, dot = draw(
        st.sampled_from(
            [
                ("@", "."),
                (" @ ", " . "),
                (" [at] ", " [dot] "),
                ("(at)", "(dot)"),
                ("\ufe6b", "."),
                (" at ", " dot "),  # spelled out
                (" at ", "."),
                ("@", " dot "),
            ]
        )
    )
    return Planted("email", local + at + domain.replace(".", dot), (local,), public=domain)


@st.composite
def aws_keys(draw: st.DrawFn) -> Planted:
    prefix = draw(st.sampled_from(["AKIA", "ASIA", "AROA", "AIDA"]))
    key = prefix + draw(st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=16))
    if any(c.isdigit() for c in key) and draw(st.booleans()):
        key = key.lower()  # in lower case, a key id needs a digit to be one
        return Planted("aws_key", grouped(key, draw(st.sampled_from(["", "-"]))), (key,))
    return Planted("aws_key", grouped(key, draw(st.sampled_from(["", " ", "-"]))), (key,))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@st.composite
def jwts(draw: st.DrawFn) -> Planted:
    claims = {"sub": draw(_LOCAL), "iat": draw(st.integers(0, 2**40))}
    token = ".".join(
        [
            _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()),
            _b64url(json.dumps(claims).encode()),
            _b64url(draw(st.binary(min_size=16, max_size=48))),
        ]
    )
    return Planted("jwt", token, tuple(token.split(".")[1:]))


@st.composite
def pem_keys(draw: st.DrawFn) -> Planted:
    kind = draw(st.sampled_from(["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", "DSA "]))
    body = base64.b64encode(draw(st.binary(min_size=24, max_size=90))).decode()
    lines = [body[i : i + 32] for i in range(0, len(body), 32)]
    end = draw(st.sampled_from(["full", "missing"]))  # a title cut off mid-key
    joiner = draw(st.sampled_from(["\n", " ", "\r\n"]))
    text = joiner.join([f"-----BEGIN {kind}PRIVATE KEY-----", *lines])
    if end == "full":
        text += f"{joiner}-----END {kind}PRIVATE KEY-----"
    return Planted("private_key", text, tuple(line for line in lines if len(line) >= 8))


_USER = st.from_regex(r"[a-z]{4,8}\.[a-z]{4,8}", fullmatch=True)


@st.composite
def user_paths(draw: st.DrawFn) -> Planted:
    user = draw(_USER)
    form = draw(
        st.sampled_from(
            [
                "/home/{u}/src/main.py",
                "/Users/{u}/Documents/plan.key",
                "C:\\Users\\{u}\\Desktop\\notes.txt",
                "c:\\users\\{u}\\AppData",
                "C:/Users/{u}/Downloads",
                "/HOME/{u}/.ssh/config",
                "D:\\Documents and Settings\\{u}\\x.doc",
                "\\\\fs01\\home$\\{u}\\notes.txt",
                "\\\\fileserver\\Users\\{u}\\Documents",
                "\\\\srv\\c$\\Users\\{u}\\Desktop",
                "~{u}/src/main.py",
            ]
        )
    )
    return Planted("path_user", form.format(u=user), (user,))


SECRETS: dict[str, st.SearchStrategy[Planted]] = {
    "email": emails(),
    "card": cards(),
    "iban": ibans(),
    "jwt": jwts(),
    "aws_key": aws_keys(),
    "private_key": pem_keys(),
    "phone": phones(),
    "ssn": ssns(),
    "path_user": user_paths(),
}

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u202a\u202b\u202c\u202d\u202e\u2066\u2069"
_FULLWIDTH = str.maketrans({**{chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}, " ": "\u3000"})


@st.composite
def disguised(draw: st.DrawFn, planted: Planted) -> str:
    """The planted text as an evader (or an odd keyboard) would write it."""
    text = planted.text
    how = draw(st.sampled_from(["plain", "zero-width", "fullwidth", "both"]))
    if how in ("fullwidth", "both"):
        text = text.translate(_FULLWIDTH)
    if how in ("zero-width", "both") and len(text) > 1:
        chars = list(text)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(1, len(chars) - 1))
            chars.insert(i, draw(st.sampled_from(ZERO_WIDTH)))
        text = "".join(chars)
    return text


# Surroundings in scripts no secret uses (so a survivor cannot be explained by the filler), with
# right-to-left runs and separators that end a token.
FILLER_WORDS = ["Отчёт", "черновик", "דוח", "טיוטה", "تقرير", "مسودة", "報告書", "草稿", "Σχέδιο"]
filler = st.lists(st.sampled_from(FILLER_WORDS), max_size=4).map(" ".join)
LEAD = st.sampled_from([" | ", ", ", " \u200f| ", " \u00bb ", "\n"])
TRAIL = st.sampled_from([" | ", ", ", " \u200f| ", " \u00ab ", "\n", ".) "])

# Where a secret can be planted: (field, event type that carries it).
PLANT_SITES = [
    ("window.title", "window.focus"),
    ("window.url", "window.focus"),
    ("app.name", "window.focus"),
    ("app.bundle_id", "key.press"),
    ("target.name", "pointer.click"),
    ("target.automation_id", "pointer.click"),
    ("target.role", "pointer.click"),
    ("menu_path", "menu.select"),
    ("target.name", "text.input"),
    ("target.name", "menu.select"),
    ("clipboard.mime", "clipboard"),
    ("capture.reason", "capture.pause"),
    ("agent.version", None),
    ("agent.os", None),
]

# Field caps from the schema: a plant that does not fit is cut to the cap (the end of a secret
# must then still not survive, which the needles check).
FIELD_CAPS = {
    "window.title": 1024,
    "window.url": 4096,
    "app.name": 256,
    "app.bundle_id": 256,
    "target.name": 1024,
    "target.automation_id": 256,
    "target.role": 64,
    "menu_path": 256,
    "clipboard.mime": 128,
    "capture.reason": 64,
    "agent.version": 64,
    "agent.os": 32,
}


# --- regex-adversarial texts ----------------------------------------------------------------------

# For every alternative of the combined detector pattern: texts built from what its repeated groups
# accept and near-misses that make it try (and fail) at every position. Each is repeated to length.
ADVERSARIAL: dict[str, list[str]] = {
    "keep_date": ["2026-11-2", "2026-11-27T10:3", "1111-11-11 11:1", "2026-11-27 "],
    "keep_time": ["1:2", "12:34:5", "1:23:", "12:34 "],
    "private_key": [
        "-----BEGIN ",
        "-----BEGIN PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY----",
        "-----END PRIVATE KEY-----",
        "PRIVATE KEY-----BEGIN",
        "-----BEGIN" + "A" * 39 + " PRIVATE KEY",
    ],
    "jwt": ["eyJa.", "a.", "eyJ-", "eyJaaaa.", "eyJaaaa.aaaa", "eyJ ", "eyJaaaa.aaaa."],
    "url": ["http://", "www.", "https:/", "www.a", "ftp://a@", "http://[", "https://a:"],
    "email": [
        "a@",
        "a.",
        "a@a",
        "a [at] ",
        "a(at)",
        "a @ ",
        "a@a.",
        "a (dot) ",
        ".a@",
        "a.a.a@",
        "x@y.",
        "a [at] b (dot) ",
        "a@ ",
        "@a",
        "'%+-",
        "a at ",  # spelled out: "at" and "dot" as words
        "a at a.",
        "a at a dot ",
        "a AT a DOT co",
        "a at a dot co.",
        "a at co.co-",
        "a at www.",
        "a@a dot ",
        "a [at] a dot ",
        "a\tat\ta\tdot\t",
        " at  dot ",
    ],
    "aws_key": [
        "AKIA",
        "AKIA-",
        "AKIA A",
        "ASIA1",
        "AKIA" + "B" * 15 + "-",
        "akia",  # any case
        "akia1",
        "akia-",
        "akia-aaa1-",
        "Asia" + "b" * 15 + "1",
        "akia" + "1" * 15 + "-",
    ],
    "aws_secret": ["aws", "aws secret", "aws sk ", "aws secret=", "awssk:", "aws" + "x" * 19],
    "iban": [
        "DE89 ",
        "DE89",
        "de89",
        "AB12CDEFGHIJKLMNO-",
        "DE8937040044053201300",
        "de89a",
        "GB82 WEST ",
        "DE89-",
    ],
    "ipv4": ["1.", "1.1.1.", "255.255.255.", "1.1.1.1.", "999.999.999.999 ", "1.1.1.1"],
    "ipv6": [":", "1:", "a:", "ffff:", "fe80::1%eth0 ", "1::", "::ffff:1.1.1.", "a:b:c:d:e:f:0:1:"],
    "number": [
        *["1-", "1 ", "1.", "12 ", "(1)", "+1 ", "1--", "1/", "1 - ", "1a ", "1.2"],
        *["1111_", "1111_1111_", "1111_111111_", "1111_1111_1111_1111_", "1_", "1111_1"],
    ],
    "glued_number": ["a1", "a1234567", "x12345678901234567890", "_1234567 "],
    "secret": ["a", "aB3+", "ghp_", "sk-", "xoxb-", "AIza", "a-", "a+/=", "Zk3vQ9xLp2Rm8TnW-"],
}
# Inputs that stress normalization and every pass at once rather than one pattern.
ADVERSARIAL_MIXED = [
    "\uff11\u2013",  # full-width digit and en dash: folded into a digit run
    "\ufdfa",  # NFKC expands one character into 18
    "a\u200b",  # invisible every other character
    "\x00\x01",  # controls
    "/home/",
    "C:\\Users\\",
    "/Users/a",
    "\\\\",
    "\\\\s\\home$\\",
    "\\profiles\\a",
    "~a/",
    "~a",
    "\u0661\u0660.",  # Arabic-Indic digits
    "4111 1111 ",
    "123-45-",
    "<EMAIL>",
    "\u202e1",
]


def long_text(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


# A benign text that still triggers every alternative (so the whole combined pattern runs over
# it), padded with ordinary title words: the fair baseline for a text of the same length.
BENIGN_TRIGGERS = (
    "aws AKIA eyJ PRIVATE KEY a::b x@y www. 1234567 1.2.3.4 DE12 ABCD EFGH IJK https:// "
    "ThisIsALongWordOfTwentyPlus /home/ "
)
BENIGN_FILLER = "Quarterly report v2 draft, page 3 of 12 - Microsoft Word (read-only) "


def benign_text(length: int) -> str:
    return (BENIGN_TRIGGERS + long_text(BENIGN_FILLER, length))[:length]
