"""Our redactor side by side with Presidio's pattern recognizers and scrubadub, on the same texts.

    .venv-compare/bin/python bench/redactors.py [--repeat N] [--per-variant N] [--markdown]
    make bench-redactors      # sets up .venv-compare with the comparators, then runs this

Three measures, on the same inputs for every tool:

1. benign survival: the corpus of ordinary UI strings the redactor is tested on
   (`tests.corpus.corpus()`, which tests/unit/test_benign_corpus.py loads too). A string
   survives ours when the redacted text equals the normalized input, runs of white space aside
   (the notion of that test); Presidio's when its analyzer finds no entity at its default score
   thresholds; scrubadub's when `clean()` returns it unchanged.
2. secrets caught by kind: seeded UI texts ("Re: invoice for {secret} - Mail", "Terminal -
   {secret}", ...) with one planted value each, in several formats per kind. Ours and scrubadub
   catch it when the value no longer appears in their output; Presidio when the spans it found
   cover the value (no anonymizer involved). "n/a" marks a kind a tool has no detector for,
   with what its other detectors caught of it anyway, if anything.
3. speed: texts per second on each corpus in one process, warm (each tool has processed both
   corpora once before the clock starts), the garbage collector off during a pass as timeit
   does, the best of --repeat passes, the tools interleaved within each repeat in a rotating
   order, so that a noisy neighbour slows all of them alike.

Configurations. Ours: `Redactor(DETECTORS, "host")`, what the benign corpus test gets through a
program that keeps URL hosts; its memo of phone-number verdicts is emptied before each timed
pass, so that a repeat pays for the numbers the first pass paid for. Presidio: `AnalyzerEngine`
with its `NoOpNlpEngine` (no spaCy model: none can be downloaded here, so its NER recognizer is
left out) and a registry of only the predefined recognizers that match our detectors, plus the
crypto-wallet one; tldextract, which its e-mail recognizer validates with, is held to its
bundled suffix list so that nothing is fetched. scrubadub: `Scrubber()` with its default
detectors (locale en_US), none of which needs a model; its name detectors (spaCy, TextBlob,
Stanford) need downloaded models and are left out.

From the main venv, which has no comparator, each is reported as not installed in one line.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import json
import logging
import os
import platform
import random
import shlex
import string
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ilake_contract import redact  # noqa: E402
from ilake_contract.redact import DETECTORS, Redactor, normalize  # noqa: E402
from tests.corpus import corpus as benign_corpus  # noqa: E402
from tests.corpus.secrets import iban_for, luhn_complete  # noqa: E402

SEED = 20261204
PER_VARIANT = 20
REPEAT = 5

# --- the planted-secret corpus ---------------------------------------------------------------

# Where a secret shows up in UI text: window titles, tabs, list items, search boxes.
CONTEXTS = (
    "Re: invoice for {} - Mail",
    "Terminal - {}",
    "{} - Notepad",
    "Inbox - {} - Outlook",
    "Slack | #support | {}",
    'Search results for "{}" - Google Chrome',
    "Edit contact: {}",
    "Ticket 4821: customer wrote {} (unread)",
    "{}",
    "Copied to clipboard: {}",
    "{} \u2014 Mozilla Firefox",
    "Aper\u00e7u \u2013 {}",
)
FIRST = ("jane", "john", "maria", "wei", "fatima", "lukas", "chloe", "arjun", "sofia", "noah")
LAST = ("roe", "doe", "schmidt", "martin", "garcia", "kowalski", "nguyen", "okafor", "rossi")
WORDS = ("portal", "billing", "intranet", "drive", "shop", "support", "files", "crm", "wiki")
DIGITS = string.digits
ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Secret:
    """A generated secret: `value`, inside `written` (the value with a label around it)."""

    value: str
    written: str = ""


@dataclass(frozen=True)
class Planted:
    kind: str
    variant: str
    text: str  # the whole UI text
    value: str  # the planted value: it must not survive
    start: int  # where the value starts in `text`

    @property
    def end(self) -> int:
        return self.start + len(self.value)


Generator = Callable[[random.Random], Secret]


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _grouped(value: str, sizes: Sequence[int], sep: str) -> str:
    parts, i = [], 0
    for size in sizes:
        parts.append(value[i : i + size])
        i += size
    parts.append(value[i:])
    return sep.join(part for part in parts if part)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58check(payload: bytes) -> str:
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n, out = int.from_bytes(data, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _email(plus: bool) -> Generator:
    def make(rng: random.Random) -> Secret:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        tld = rng.choice(("com", "org", "de", "io", "co.uk"))
        if plus:
            return Secret(f"{first}+{rng.choice(WORDS)}@mail.{rng.choice(WORDS)}-corp.{tld}")
        return Secret(f"{first}.{last}@{rng.choice(WORDS)}-example.{tld}")

    return make


US_AREA_CODES = ("212", "303", "305", "312", "404", "415", "512", "617", "713", "206")


def _phone_number(rng: random.Random, region: str) -> Any:
    """A valid number of `region`'s plan: a US area code with a random exchange and line, or
    an example number of the plan with a new subscriber part."""
    import phonenumbers

    kinds = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)
    for _ in range(1000):
        if region == "US":
            exchange = rng.choice("23456789") + _pick(rng, DIGITS, 2)
            candidate = f"+1{rng.choice(US_AREA_CODES)}{exchange}{_pick(rng, DIGITS, 4)}"
        else:
            example = phonenumbers.example_number_for_type(region, rng.choice(kinds))
            if example is None:
                continue
            national = str(example.national_number)
            keep = len(national) - (6 if len(national) >= 10 else 4)
            new = _pick(rng, DIGITS, len(national) - keep)
            candidate = f"+{example.country_code}{national[:keep]}{new}"
        number = phonenumbers.parse(candidate)
        if phonenumbers.is_valid_number(number):
            return number
    raise RuntimeError(f"no valid {region} number")  # pragma: no cover


def _phone(form: str) -> Generator:
    def make(rng: random.Random) -> Secret:
        import phonenumbers

        fmt = phonenumbers.PhoneNumberFormat
        if form in ("US national", "US dashed", "unbroken after a cue"):
            number = _phone_number(rng, "US")
        elif form == "GB/DE/FR national":
            number = _phone_number(rng, rng.choice(("GB", "DE", "FR")))
        else:
            number = _phone_number(rng, rng.choice(("US", "GB", "DE", "FR")))
        digits = str(number.national_number)
        if form == "international":  # +44 20 7946 0958
            return Secret(phonenumbers.format_number(number, fmt.INTERNATIONAL))
        if form == "E.164":  # +442079460958
            return Secret(phonenumbers.format_number(number, fmt.E164))
        if form == "00 for +":  # 0044 20 7946 0958
            return Secret("00" + phonenumbers.format_number(number, fmt.INTERNATIONAL)[1:])
        if form == "US dashed":  # 415-555-0132
            return Secret(f"{digits[:3]}-{digits[3:6]}-{digits[6:]}")
        if form == "unbroken after a cue":  # call 4155550132
            return Secret(digits, f"{rng.choice(('tel', 'call', 'Mobile:'))} {digits}")
        # (415) 555-0132, 020 7946 0958, 030 1234567, 06 12 34 56 78
        return Secret(phonenumbers.format_number(number, fmt.NATIONAL))

    return make


# issuer prefix, length: Visa, Mastercard (51-55 and 2221-2720), Amex, Discover
_CARD_BRANDS = (
    ("4", 16),
    ("51", 16),
    ("55", 16),
    ("2221", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
)


def _card(grouped: bool) -> Generator:
    def make(rng: random.Random) -> Secret:
        prefix, length = rng.choice(_CARD_BRANDS)
        number = luhn_complete(prefix + _pick(rng, DIGITS, length - len(prefix) - 1))
        if not grouped:
            return Secret(number)
        sizes = (4, 6) if length == 15 else (4, 4, 4)  # Amex 4-6-5, the others 4-4-4-4
        return Secret(_grouped(number, sizes, rng.choice((" ", "-"))))

    return make


# each country's BBAN: (alphabet, count) runs
_BBAN: dict[str, tuple[tuple[str, int], ...]] = {
    "DE": ((DIGITS, 18),),
    "GB": ((string.ascii_uppercase, 4), (DIGITS, 14)),
    "FR": ((DIGITS, 10), (DIGITS + "ABCXYZ", 11), (DIGITS, 2)),
    "NL": ((string.ascii_uppercase, 4), (DIGITS, 10)),
    "ES": ((DIGITS, 20),),
}


def _iban(grouped: bool) -> Generator:
    def make(rng: random.Random) -> Secret:
        country = rng.choice(sorted(_BBAN))
        bban = "".join(_pick(rng, alphabet, n) for alphabet, n in _BBAN[country])
        value = iban_for(country, bban)
        return Secret(_grouped(value, [4] * 8, " ") if grouped else value)

    return make


def _ssn(form: str) -> Generator:
    def make(rng: random.Random) -> Secret:
        area = rng.choice([a for a in range(1, 900) if a != 666])
        compact = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
        if form == "unbroken after a cue":  # nine digits in a row are an SSN only after a cue
            return Secret(compact, f"{rng.choice(('SSN', 'SSN:', 'SS#'))} {compact}")
        sep = "-" if form == "dashed" else " "
        return Secret(sep.join((compact[:3], compact[3:5], compact[5:])))

    return make


def _ip(form: str) -> Generator:
    def make(rng: random.Random) -> Secret:
        if form == "IPv4":
            first = rng.choice([n for n in range(11, 224) if n != 127])
            return Secret(".".join(str(n) for n in (first, *rng.sample(range(1, 255), 3))))
        groups = [f"{rng.randrange(1, 0x10000):x}" for _ in range(8)]
        if form == "IPv6 compressed":
            return Secret(f"2001:db8:{groups[2]}::{groups[6]}:{groups[7]}")
        return Secret(":".join(groups))

    return make


def _url(form: str) -> Generator:
    def make(rng: random.Random) -> Secret:
        host = f"{rng.choice(WORDS)}.{rng.choice(WORDS)}-corp.com"
        if form == "token in query":
            return Secret(f"https://{host}/reset?token={_pick(rng, ALNUM, 24)}")
        if form == "user in path":
            first, last = rng.choice(FIRST), rng.choice(LAST)
            return Secret(f"https://{host}/users/{first}.{last}/files/q3-budget.xlsx")
        return Secret(f"www.{rng.choice(WORDS)}-shop.com/orders/{rng.randint(10**5, 10**6)}")

    return make


def _aws_key(rng: random.Random) -> Secret:
    return Secret(rng.choice(("AKIA", "ASIA")) + _pick(rng, UPPER_ALNUM, 16))


def _aws_secret(form: str) -> Generator:
    def make(rng: random.Random) -> Secret:
        value = _pick(rng, ALNUM + "/+", 40)
        if form == "environment variable":
            return Secret(value, f"export AWS_SECRET_ACCESS_KEY={value}")
        return Secret(value, f"aws_secret_access_key = {value}")

    return make


def _jwt(rng: random.Random) -> Secret:
    claims = {
        "sub": f"{rng.choice(FIRST)}.{rng.choice(LAST)}",
        "iat": rng.randint(10**9, 2 * 10**9),
    }
    header = {"alg": "HS256", "typ": "JWT"}
    signature = _b64url(rng.randbytes(32))
    return Secret(
        ".".join(
            (_b64url(json.dumps(header).encode()), _b64url(json.dumps(claims).encode()), signature)
        )
    )


def _private_key(joiner: str) -> Generator:
    def make(rng: random.Random) -> Secret:
        kind = rng.choice(("RSA ", "EC ", "OPENSSH ", ""))
        body = base64.b64encode(rng.randbytes(rng.randint(96, 160))).decode()
        value = joiner.join(body[i : i + 64] for i in range(0, len(body), 64))
        begin, end = f"-----BEGIN {kind}PRIVATE KEY-----", f"-----END {kind}PRIVATE KEY-----"
        return Secret(value, joiner.join((begin, value, end)))

    return make


def _token(form: str) -> Generator:
    def make(rng: random.Random) -> Secret:
        if form == "GitHub ghp_":
            return Secret("ghp_" + _pick(rng, ALNUM, 36))
        if form == "OpenAI sk-":
            return Secret("sk-proj-" + _pick(rng, ALNUM, 48))
        if form == "Slack xoxb-":
            return Secret(
                f"xoxb-{_pick(rng, DIGITS, 11)}-{_pick(rng, DIGITS, 13)}-{_pick(rng, ALNUM, 24)}"
            )
        if form == "Google AIza":
            return Secret("AIza" + _pick(rng, ALNUM + "-_", 35))
        if form == "Stripe sk_live_":
            return Secret("sk_live_" + _pick(rng, ALNUM, 24))
        return Secret(_pick(rng, ALNUM, 40))  # an API key without a known prefix

    return make


def _path_user(form: str) -> Generator:
    def make(rng: random.Random) -> Secret:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        user = rng.choice((f"{first}.{last}", f"{first[0]}{last}"))
        path = {
            "Linux": "/home/{}/projects/app/main.py",
            "macOS": "/Users/{}/Documents/plan.key",
            "Windows": "C:\\Users\\{}\\Desktop\\budget.xlsx",
        }[form]
        return Secret(user, path.format(user))

    return make


def _crypto(rng: random.Random) -> Secret:
    return Secret(base58check(b"\0" + rng.randbytes(20)))  # a Bitcoin P2PKH address


def _credential(rng: random.Random) -> Secret:
    password = rng.choice(("Summer", "Winter", "Dragon", "Sunshine")) + _pick(rng, DIGITS, 4) + "!"
    return Secret(password, f"username: {rng.choice(FIRST)} password: {password}")


def _handle(rng: random.Random) -> Secret:
    # a Twitter user name has at most 15 letters, digits and underscores
    return Secret(f"@{rng.choice(FIRST)}_{rng.choice(LAST)}"[:13] + str(rng.randint(10, 99)))


# kind -> variant -> generator. The kinds our detectors handle, then three that only the others'
# detectors look for (a wallet address, a user name and password pair, a Twitter handle).
GENERATORS: dict[str, dict[str, Generator]] = {
    "email": {"name@domain": _email(False), "name+tag@sub.domain": _email(True)},
    "phone": {
        form: _phone(form)
        for form in (
            "international",
            "E.164",
            "00 for +",
            "US national",
            "US dashed",
            "GB/DE/FR national",
            "unbroken after a cue",
        )
    },
    "card": {"grouped": _card(True), "ungrouped": _card(False)},
    "iban": {"grouped": _iban(True), "compact": _iban(False)},
    "ssn": {form: _ssn(form) for form in ("dashed", "spaced", "unbroken after a cue")},
    "ip": {form: _ip(form) for form in ("IPv4", "IPv6 full", "IPv6 compressed")},
    "url": {form: _url(form) for form in ("token in query", "user in path", "www. without scheme")},
    "aws_key": {"AKIA/ASIA": _aws_key},
    "aws_secret": {
        form: _aws_secret(form) for form in ("credentials file", "environment variable")
    },
    "jwt": {"HS256": _jwt},
    "private_key": {"PEM, lines": _private_key("\n"), "PEM, one line": _private_key(" ")},
    "secret": {
        form: _token(form)
        for form in (
            "GitHub ghp_",
            "OpenAI sk-",
            "Slack xoxb-",
            "Google AIza",
            "Stripe sk_live_",
            "40 random letters and digits",
        )
    },
    "path_user": {form: _path_user(form) for form in ("Linux", "macOS", "Windows")},
    "crypto": {"Bitcoin address": _crypto},
    "credential": {"username: ... password: ...": _credential},
    "twitter": {"@handle": _handle},
}
OURS_KINDS = frozenset(DETECTORS)  # the test checks that every one of them is planted


def planted_corpus(per_variant: int = PER_VARIANT, seed: int = SEED) -> list[Planted]:
    """`per_variant` texts for every variant of every kind, each with one planted value."""
    rng = random.Random(seed)
    out: list[Planted] = []
    for kind, variants in GENERATORS.items():
        for variant, make in variants.items():
            for _ in range(per_variant):
                secret = make(rng)
                written = secret.written or secret.value
                head, _, tail = rng.choice(CONTEXTS).partition("{}")
                start = len(head) + written.index(secret.value)
                out.append(Planted(kind, variant, head + written + tail, secret.value, start))
    return out


# --- the tools -------------------------------------------------------------------------------


class Tool(Protocol):
    name: str
    kinds: frozenset[str]  # the planted kinds it has a detector for

    def process(self, text: str) -> object: ...  # what the speed measure times
    def unchanged(self, text: str) -> bool: ...
    def why(self, text: str) -> set[str]: ...  # the detectors that fire on `text`
    def caught(self, planted: Planted) -> bool: ...
    def before_pass(self) -> None: ...


def _squeeze(text: str) -> str:
    return " ".join(text.split())


class Ours:
    name = "ours"
    kinds = OURS_KINDS

    def __init__(self, warm_memo: bool = False) -> None:
        self.redactor = Redactor(DETECTORS, "host")
        self.warm_memo = warm_memo

    def process(self, text: str) -> object:
        return self.redactor.redact(text)

    def unchanged(self, text: str) -> bool:
        return _squeeze(self.redactor.redact(text).text) == _squeeze(normalize(text))

    def why(self, text: str) -> set[str]:
        return set(self.redactor.redact(text).counts)

    def caught(self, planted: Planted) -> bool:
        return planted.value not in self.redactor.redact(planted.text).text

    def before_pass(self) -> None:
        # the memos of number and IBAN verdicts: titles repeat in real use, but passes over one
        # corpus would repeat every number, which the other tools would pay for each time
        if not self.warm_memo:
            redact.clear_caches()


PRESIDIO_RECOGNIZERS = (
    "EmailRecognizer",
    "PhoneRecognizer",
    "CreditCardRecognizer",
    "IbanRecognizer",
    "UsSsnRecognizer",
    "IpRecognizer",
    "UrlRecognizer",
    "CryptoRecognizer",
)


class Presidio:
    name = "Presidio"
    kinds = frozenset({"email", "phone", "card", "iban", "ssn", "ip", "url", "crypto"})

    def __init__(self) -> None:
        # tldextract would fetch the public suffix list on its first call: its bundled copy only
        os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer import predefined_recognizers as predefined
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        registry = RecognizerRegistry(
            recognizers=[getattr(predefined, name)() for name in PRESIDIO_RECOGNIZERS]
        )
        nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        self.engine = AnalyzerEngine(registry=registry, nlp_engine=nlp)

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [(r.start, r.end) for r in self.engine.analyze(text, language="en")]

    def process(self, text: str) -> object:
        return self.engine.analyze(text, language="en")

    def unchanged(self, text: str) -> bool:
        return not self.spans(text)

    def why(self, text: str) -> set[str]:
        return {r.entity_type for r in self.engine.analyze(text, language="en")}

    def caught(self, planted: Planted) -> bool:
        return covers(self.spans(planted.text), planted.start, planted.end)

    def before_pass(self) -> None:
        pass


def covers(spans: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    """Whether the union of `spans` covers [start, end)."""
    reached = start
    for begin, stop in sorted(spans):
        if begin > reached:
            break
        reached = max(reached, stop)
        if reached >= end:
            return True
    return reached >= end


class Scrubadub:
    name = "scrubadub"
    kinds = frozenset({"email", "phone", "card", "ssn", "url", "credential", "twitter"})

    def __init__(self) -> None:
        import scrubadub

        self.scrubber = scrubadub.Scrubber()  # the default detectors, locale en_US

    def process(self, text: str) -> object:
        return self.scrubber.clean(text)

    def unchanged(self, text: str) -> bool:
        return bool(self.scrubber.clean(text) == text)

    def why(self, text: str) -> set[str]:
        return {filth.type for filth in self.scrubber.iter_filth(text)}

    def caught(self, planted: Planted) -> bool:
        return planted.value not in self.scrubber.clean(planted.text)

    def before_pass(self) -> None:
        pass


MAKERS: dict[str, Callable[[], Tool]] = {"ours": Ours, "presidio": Presidio, "scrubadub": Scrubadub}


def load_tools(names: Sequence[str], warm_memo: bool = False) -> tuple[list[Tool], dict[str, str]]:
    """The tools that load, and a one-line reason for each that does not."""
    tools: list[Tool] = []
    missing: dict[str, str] = {}
    for name in names:
        try:
            tools.append(Ours(warm_memo) if name == "ours" else MAKERS[name]())
        except ImportError as exc:
            missing[name] = f"not installed ({type(exc).__name__}: {exc})"
        except Exception as exc:  # a comparator that imports but cannot be set up
            missing[name] = f"unavailable ({type(exc).__name__}: {exc})"
    return tools, missing


# --- the measures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    benign_total: int
    benign_altered: dict[str, list[str]]  # tool -> the strings it altered
    planted_total: Counter[tuple[str, str]]  # (kind, variant) -> texts
    caught: dict[str, Counter[tuple[str, str]]]  # tool -> (kind, variant) -> caught
    speed: dict[tuple[str, str], float]  # (tool, corpus) -> texts per second

    def kept(self, tool: str) -> int:
        return self.benign_total - len(self.benign_altered[tool])


def altered(tool: Tool, texts: Sequence[str]) -> list[str]:
    """The benign strings `tool` does not leave unchanged."""
    return [text for text in texts if not tool.unchanged(text)]


def reasons(tool: Tool, texts: Sequence[str]) -> Counter[str]:
    """How many of `texts` each of the tool's detectors fires on."""
    return Counter(name for text in texts for name in tool.why(text))


def caught_by_variant(tool: Tool, planted: Sequence[Planted]) -> Counter[tuple[str, str]]:
    return Counter((p.kind, p.variant) for p in planted if tool.caught(p))


def throughput(
    tools: Sequence[Tool], corpora: Mapping[str, Sequence[str]], repeat: int
) -> dict[tuple[str, str], float]:
    """Texts per second, the best of `repeat` passes, the tools interleaved in each repeat."""
    best: dict[tuple[str, str], float] = {}
    for r in range(repeat):
        for corpus_name, texts in corpora.items():
            order = [tools[(i + r) % len(tools)] for i in range(len(tools))]
            for tool in order:
                tool.before_pass()
                process = tool.process
                enabled = gc.isenabled()
                gc.disable()
                try:
                    started = time.perf_counter()
                    for text in texts:
                        process(text)
                    elapsed = time.perf_counter() - started
                finally:
                    if enabled:
                        gc.enable()
                key = (tool.name, corpus_name)
                best[key] = min(best.get(key, float("inf")), elapsed)
    return {key: len(corpora[key[1]]) / seconds for key, seconds in best.items()}


def measure(
    tools: Sequence[Tool], benign: Sequence[str], planted: Sequence[Planted], repeat: int
) -> Result:
    # the accuracy passes come first: they warm every tool up for the timed ones
    changed = {tool.name: altered(tool, benign) for tool in tools}
    caught = {tool.name: caught_by_variant(tool, planted) for tool in tools}
    corpora = {"benign": list(benign), "planted": [p.text for p in planted]}
    speed = throughput(tools, corpora, repeat) if repeat > 0 else {}
    total = Counter((p.kind, p.variant) for p in planted)
    return Result(len(benign), changed, total, caught, speed)


# --- the report ------------------------------------------------------------------------------


def versions(tools: Sequence[Tool]) -> dict[str, str]:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("log", "-1", "--format=%h", "--", "contract/ilake_contract/redact.py")
        if git("status", "--porcelain", "--", "contract/ilake_contract/redact.py"):
            commit += ", with local changes"
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    found = {
        "Python": platform.python_version(),
        "ours": f"contract/ilake_contract/redact.py as of commit {commit}",
        "phonenumbers": version("phonenumbers"),
    }
    names = {tool.name for tool in tools}
    if "Presidio" in names:
        found["presidio-analyzer"] = version("presidio-analyzer")
        found["tldextract"] = version("tldextract")
    if "scrubadub" in names:
        found["scrubadub"] = version("scrubadub")
    return found


def _cell(n: int, total: int) -> str:
    return f"{n}/{total}"


def _percent(n: int, total: int) -> str:
    return f"{n:,} ({100 * n / total:.1f}%)" if total else "-"


def table(result: Result, tools: Sequence[Tool], by_variant: bool = False) -> list[list[str]]:
    """Rows of the report; the first is the header."""
    rows = [["", *(TITLES.get(tool.name, tool.name) for tool in tools)]]
    rows.append(
        [f"benign UI strings left unchanged (of {result.benign_total:,})"]
        + [_percent(result.kept(tool.name), result.benign_total) for tool in tools]
    )
    for corpus_name in ("benign", "planted"):
        if result.speed:
            rows.append(
                [f"texts/s, {corpus_name} corpus"]
                + [f"{result.speed[(tool.name, corpus_name)]:,.0f}" for tool in tools]
            )
    totals: Counter[str] = Counter()
    caught_kind: dict[str, Counter[str]] = {tool.name: Counter() for tool in tools}
    for (kind, _variant), n in result.planted_total.items():
        totals[kind] += n
    for tool in tools:
        for (kind, _variant), n in result.caught[tool.name].items():
            caught_kind[tool.name][kind] += n

    def cell(tool: Tool, kind: str, n: int, total: int) -> str:
        if kind in tool.kinds:
            return _cell(n, total)
        return "n/a" if n == 0 else f"n/a ({n}/{total} by other detectors)"

    rows.append(["**secrets caught**", *("" for _ in tools)])
    for kind in GENERATORS:
        rows.append(
            [f"{kind} ({len(GENERATORS[kind])} formats)" if len(GENERATORS[kind]) > 1 else kind]
            + [cell(tool, kind, caught_kind[tool.name][kind], totals[kind]) for tool in tools]
        )
        if by_variant and len(GENERATORS[kind]) > 1:
            for variant in GENERATORS[kind]:
                total = result.planted_total[(kind, variant)]
                rows.append(
                    [f"&nbsp;&nbsp;{variant}"]
                    + [
                        cell(tool, kind, result.caught[tool.name][(kind, variant)], total)
                        for tool in tools
                    ]
                )
    ours_total = sum(totals[k] for k in OURS_KINDS)
    rows.append(
        [f"all kinds ours handles ({len(OURS_KINDS)})"]
        + [_cell(sum(caught_kind[t.name][k] for k in OURS_KINDS), ours_total) for t in tools]
    )
    return rows


TITLES = {"ours": "ours", "Presidio": "Presidio (patterns)", "scrubadub": "scrubadub"}


def markdown(rows: list[list[str]]) -> str:
    header, *body = rows
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def plain(rows: list[list[str]]) -> str:
    cleaned = [[c.replace("**", "").replace("&nbsp;", " ") for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cleaned) for i in range(len(cleaned[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cleaned
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=REPEAT, help="timed passes; the best counts")
    parser.add_argument("--per-variant", type=int, default=PER_VARIANT, help="texts per format")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--tools", nargs="+", choices=list(MAKERS), default=list(MAKERS))
    parser.add_argument("--by-format", action="store_true", help="a row for every format")
    parser.add_argument("--markdown", action="store_true", help="Markdown, ready to paste")
    parser.add_argument("--misses", action="store_true", help="list what each tool missed")
    parser.add_argument(
        "--warm-memo",
        action="store_true",
        help="keep our phone-number memo across timed passes (as where titles repeat)",
    )
    args = parser.parse_args(argv)

    tools, missing = load_tools(args.tools, args.warm_memo)
    for name, reason in missing.items():
        print(f"{name}: {reason}")
    benign = benign_corpus()
    planted = planted_corpus(args.per_variant, args.seed)
    result = measure(tools, benign, planted, args.repeat)
    rows = table(result, tools, by_variant=args.by_format)

    python = Path(sys.executable)
    if python.is_relative_to(ROOT):
        python = python.relative_to(ROOT)
    script_args = sys.argv[1:] if argv is None else list(argv)
    command = shlex.join([str(python), "bench/redactors.py", *script_args])
    found = versions(tools)
    head = (
        f"Command: `{command}`, {date.today().isoformat()}, "
        f"{os.cpu_count()} cores; {len(benign):,} benign strings, {len(planted):,} planted "
        f"secrets (seed {args.seed}), best of {args.repeat} timed passes."
    )
    print(head)
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in found.items()) + ".")
    print()
    print(markdown(rows) if args.markdown else plain(rows))
    print()
    print("Benign strings altered, by the detector that fired (a string may count for several):")
    for tool in tools:
        fired = reasons(tool, result.benign_altered[tool.name]).most_common()
        listed = ", ".join(f"{name} {n:,}" for name, n in fired) or "none"
        print(f"{'- ' if args.markdown else '  '}{TITLES.get(tool.name, tool.name)}: {listed}")
    if args.misses:
        for tool in tools:
            for text in result.benign_altered[tool.name]:
                print(f"{tool.name} altered {sorted(tool.why(text))}: {text!r}")
        for tool in tools:
            for p in planted:
                if p.kind in tool.kinds and not tool.caught(p):
                    print(f"{tool.name} missed {p.kind}/{p.variant}: {p.text!r}")


if __name__ == "__main__":
    main()
