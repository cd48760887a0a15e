"""PII and secret detectors for the free text a policy keeps (DESIGN 4.4).

One combined regex finds candidates in a single pass; Python validators (Luhn, mod-97, octet
ranges, entropy) decide, so a Luhn-invalid number is not a card. Text is normalized first so the
usual evasions fail: zero-width and bidi characters are removed, NFKC folds full-width digits and
look-alike '@' signs, Unicode dashes and dots become ASCII, and digit groups may be split by
spaces, dashes or dots. Matches become typed placeholders and are counted per detector; the
matched content goes nowhere.

Ordering matters: the alternatives are tried left to right at each position, and a few
"keep" alternatives (dates, times) come first so that 2026-11-27 is never taken for a phone.
"""

from __future__ import annotations

import ipaddress
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

DETECTORS: tuple[str, ...] = (
    "private_key",
    "jwt",
    "url",
    "email",
    "aws_key",
    "aws_secret",
    "iban",
    "ip",
    "card",
    "ssn",
    "phone",
    "path_user",
    "secret",
)

PLACEHOLDER = {
    "private_key": "<PRIVATE_KEY>",
    "jwt": "<JWT>",
    "url": "<URL>",
    "email": "<EMAIL>",
    "aws_key": "<AWS_KEY>",
    "aws_secret": "<AWS_SECRET>",
    "iban": "<IBAN>",
    "ip": "<IP>",
    "card": "<CARD>",
    "ssn": "<SSN>",
    "phone": "<PHONE>",
    "path_user": "<USER>",
    "secret": "<SECRET>",
}

# --- normalization ---------------------------------------------------------------------------

# Characters that render as nothing (or reorder text) and so hide content from a naive regex.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]"
)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ASCII_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_FOLD = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2e3a\u2e3b\ufe58\ufe63", "-"),
        **dict.fromkeys("\u3002\uff0e\uff61\u2024\u00b7", "."),
        **dict.fromkeys(
            "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
            "\u200a\u202f\u205f\u3000\u2028\u2029",
            " ",
        ),
    }
)


def normalize(text: str) -> str:
    """Fold text to a canonical form in which look-alikes and invisible characters are gone."""
    if text.isascii():
        return _ASCII_CONTROL.sub(" ", text) if not text.isprintable() else text
    text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    text = _INVISIBLE.sub("", text)  # NFKC can expose new ones (e.g. from compatibility forms)
    return _CONTROL.sub(" ", text)


# --- validators ------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(compact: str) -> bool:
    """ISO 13616 mod-97 check on an IBAN without spaces."""
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = "".join(str(int(c, 36)) for c in rearranged)
    except ValueError:
        return False
    return int(number) % 97 == 1


def longest_iban(compact: str) -> int:
    """The length of the longest valid IBAN that `compact` starts with, or 0.

    The same answer as iban_valid() on every prefix from the longest down, in one pass with a
    running mod-97: a run of IBAN look-alikes ("DE89 DE89 ...") costs a candidate per IBAN
    length, and twenty big-number conversions per candidate made it the slowest text per
    character the redactor had.
    """
    if len(compact) < 15 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return 0
    try:
        head = "".join(str(int(c, 36)) for c in compact[:4])
    except ValueError:
        return 0
    shift, moved = 10 ** len(head), int(head)  # the first four characters go to the end
    best = rest = 0
    for end, char in enumerate(compact[4:34], start=5):
        try:
            value = int(char, 36)
        except ValueError:
            break
        rest = (rest * (100 if value > 9 else 10) + value) % 97
        if end >= 15 and (rest * shift + moved) % 97 == 1:
            best = end
    return best


def ssn_valid(digits: str) -> bool:
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return (
        area not in ("000", "666")
        and not area.startswith("9")
        and group != "00"
        and serial != "0000"
    )


def shannon_entropy(text: str) -> float:
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def looks_secret(token: str) -> bool:
    """A long token that mixes character classes and is close to random."""
    n = len(token)
    has_digit = any(c.isdigit() for c in token)
    has_upper = any(c.isupper() for c in token)
    has_lower = any(c.islower() for c in token)
    if n >= 32 and all(c in "0123456789abcdefABCDEF" for c in token):
        return has_digit and (has_lower or has_upper)  # hex digests, API keys
    classes = has_digit + has_upper + has_lower + any(not c.isalnum() for c in token)
    if classes < 3 or not has_digit:
        return False
    return shannon_entropy(token) >= (3.7 if n < 32 else 4.0)


# --- the combined pattern --------------------------------------------------------------------

_SEP = r"[ \-.]{0,2}"  # how digit groups get split by humans and evaders alike
_PATTERNS: dict[str, str] = {
    # keep: ISO dates with optional time, clock times; listed first so they are never numbers
    "keep_date": r"(?<!\d)\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?(?!\d)",
    "keep_time": r"(?<![\d:])\d{1,2}:\d{2}(?::\d{2})?(?![\d:])",
    "private_key": (
        r"(?s:-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----.*?"
        r"(?:-----END[A-Z ]{0,40}PRIVATE KEY-----|\Z))"
    ),
    "jwt": r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
    "url": r"(?i:\b(?:https?|ftp|wss?|file|smb)://[^\s<>\"'`]+|\bwww\.[^\s<>\"'`]+)",
    "email": (
        r"(?i:(?<![\w.+%'-])[\w.+%'-]+\s*(?:@|[\[(]\s*at\s*[\])])\s*[\w-]+"
        r"(?:\s*(?:\.|[\[(]\s*dot\s*[\])])\s*[\w-]+)+)"
    ),
    "aws_key": (
        r"(?<![A-Za-z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)"
        r"(?:[ -]?[A-Z0-9]){16}(?![A-Za-z0-9])"
    ),
    # (?<!<): the placeholders <AWS_KEY> and <AWS_SECRET> are no context when output is redacted
    # again ("<AWS_KEY> sk=..." would otherwise swallow the placeholder)
    "aws_secret": r"(?i:(?<!<)aws.{0,20}?(?:secret|sk).{0,20}?[=:]\s*)[A-Za-z0-9/+=]{16,}",
    "iban": (
        r"(?<![A-Za-z0-9])(?:[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,30}(?![a-z0-9])"
        r"|[A-Za-z]{2}\d{2}[A-Za-z0-9]{11,30}(?![A-Za-z0-9]))"  # compact, any case: mod-97 decides
    ),
    # a dot may end the sentence ("from 10.0.0.1."); only a dot-digit makes a longer sequence
    "ipv4": r"(?<!\d)(?<!\d\.)\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)",
    # the last group may be a dotted quad: IPv4-mapped (::ffff:10.0.0.1) and NAT64 forms
    "ipv6": (
        r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})"
        r"(?:%\w+)?(?![\w:])"
    ),
    # every digit group (cards, SSNs, phones, bare long numbers) is classified in Python; groups
    # may be split by up to two separators, or by a spaced dash ("4111 - 1111 - 1111 - 1111")
    "number": r"(?<![A-Za-z0-9])[+(]?\d(?:(?:[ \-.()/]{0,2}| - )\d)+(?![A-Za-z0-9])",
    # a long digit run glued to letters ("tel4155552671", "card4111111111111111")
    "glued_number": r"(?<=[A-Za-z_])\d{7,19}(?!\d)",
    "secret": (
        r"(?<![A-Za-z0-9+/=_-])(?:(?:gh[opusr]|github_pat)_[A-Za-z0-9_]{20,}"
        r"|xox[abposr]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{35}"
        r"|[A-Za-z0-9+/=_-]{20,})(?![A-Za-z0-9+/=_-])"
    ),
}
# which detector each alternative serves (None: always on)
_SERVES: dict[str, tuple[str, ...]] = {
    "keep_date": (),
    "keep_time": (),
    "ipv4": ("ip",),
    "ipv6": ("ip",),
    "number": ("card", "ssn", "phone"),
    "glued_number": ("card", "ssn", "phone"),
}

# User names inside file paths, found in a pass of their own: a path is also a long token, and the
# combined pass would otherwise consume it as a secret candidate before reaching the name.
_PATH_USER = re.compile(
    r"(?i:(?<=[A-Z]:\\Users\\)|(?<=[A-Z]:\\Documents and Settings\\)|(?<=/home/)|(?<=/Users/))"
    # a name that already is the placeholder (an agent redacted it) is neither replaced nor counted
    r"(?!<USER>(?:[\\/\s]|$))"
    r"[^\\/\s]+"
)
_DATE_LIKE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./-]\d{1,2}[./-]\d{1,2}")


@dataclass(frozen=True, slots=True)
class Redaction:
    text: str
    counts: dict[str, int]


@dataclass(slots=True)
class _Scan:
    enabled: frozenset[str]
    url_mode: str
    counts: Counter[str] = field(default_factory=Counter)


class Redactor:
    """Redacts free text under a fixed set of detectors and a URL mode ('host' or 'drop')."""

    def __init__(self, detectors: Iterable[str] = DETECTORS, url_mode: str = "drop") -> None:
        self.enabled = frozenset(detectors)
        unknown = self.enabled - set(DETECTORS)
        if unknown:
            raise ValueError(f"unknown detectors: {sorted(unknown)}")
        if url_mode not in ("host", "drop"):
            raise ValueError("url_mode must be 'host' or 'drop'")
        self.url_mode = url_mode
        self._alternatives = frozenset(
            name
            for name in _PATTERNS
            if not _SERVES.get(name, (name,))
            or self.enabled.intersection(_SERVES.get(name, (name,)))
        )
        self._handlers: dict[str, Callable[[str, _Scan], str]] = {
            "keep_date": _keep,
            "keep_time": _keep,
            "private_key": _fixed("private_key"),
            "jwt": _fixed("jwt"),
            "url": self._url,
            "email": _fixed("email"),
            "aws_key": _fixed("aws_key"),
            "aws_secret": _fixed("aws_secret"),
            "iban": self._iban,
            "ipv4": self._ip,
            "ipv6": self._ip,
            "number": self._number,
            "glued_number": self._number,
            "secret": self._secret,
        }

    def redact(self, text: str) -> Redaction:
        scan = _Scan(self.enabled, self.url_mode)
        text = normalize(text)
        if "path_user" in self.enabled and ("/" in text or "\\" in text):
            text, n = _PATH_USER.subn(PLACEHOLDER["path_user"], text)
            if n:
                scan.counts["path_user"] += n
        return Redaction(self._run(text, scan), dict(scan.counts))

    # -- internals --

    def _run(self, text: str, scan: _Scan, exclude: str | None = None) -> str:
        candidates = _triggered(text) & self._alternatives
        if exclude is not None:
            candidates -= {exclude}
        if not candidates:
            return text

        def replace(m: re.Match[str]) -> str:
            name = m.lastgroup
            assert name is not None
            return self._handlers[name](m.group(), scan)

        return _compile(candidates).sub(replace, text)

    def _rescan_tail(self, matched: str, scan: _Scan) -> str:
        """A candidate that failed validation may still hide a real find after its first char."""
        return matched[0] + self._run(matched[1:], scan) if len(matched) > 1 else matched

    def _url(self, matched: str, scan: _Scan) -> str:
        scan.counts["url"] += 1
        if scan.url_mode == "drop":
            return PLACEHOLDER["url"]
        host = _url_host(matched)
        if host is None:
            return PLACEHOLDER["url"]
        if _is_ip(host):
            scan.counts["ip"] += 1
            return PLACEHOLDER["ip"]
        # A host can carry a number, a name or a token too. It is scanned as written (case
        # matters to some detectors: a JWT, a key) and kept in lower case if nothing was found.
        scanned = self._run(host, scan, exclude="url")
        return host.lower() if scanned == host else scanned

    def _iban(self, matched: str, scan: _Scan) -> str:
        compact = matched.replace(" ", "").replace("-", "").upper()
        end = longest_iban(compact)
        if end:
            # give back what followed the IBAN proper (greedy groups can overreach)
            consumed, i = 0, 0
            while consumed < end:
                if matched[i] not in " -":
                    consumed += 1
                i += 1
            scan.counts["iban"] += 1
            return PLACEHOLDER["iban"] + self._run(matched[i:], scan)
        return self._rescan_tail(matched, scan)

    def _ip(self, matched: str, scan: _Scan) -> str:
        if _is_ip(matched.split("%", 1)[0]):
            scan.counts["ip"] += 1
            return PLACEHOLDER["ip"]
        # a dotted quad out of range is a version or a number; IPv6 look-alikes are clock times,
        # but a dotted quad after the last colon is still looked at ("db:5432:10.0.0.1")
        if ":" in matched:
            head, _, tail = matched.rpartition(":")
            return head + ":" + self._run(tail, scan) if "." in tail else matched
        return self._number(matched, scan)

    def _number(self, matched: str, scan: _Scan) -> str:
        digits = "".join(c for c in matched if c.isdigit())
        n = len(digits)
        enabled = scan.enabled
        if "card" in enabled and 13 <= n <= 19 and luhn_valid(digits):
            scan.counts["card"] += 1
            return PLACEHOLDER["card"]
        if "ssn" in enabled and n == 9 and ssn_valid(digits) and _ssn_shape(matched):
            scan.counts["ssn"] += 1
            return PLACEHOLDER["ssn"]
        if n < 7 or _DATE_LIKE.fullmatch(matched):
            return matched
        if _is_decimal(matched):
            # an amount or a measurement, unless its integer part is a card ("4111…1111.50")
            if _embedded_card_or_ssn(matched, enabled & {"card"}) == "card":
                scan.counts["card"] += 1
                return PLACEHOLDER["card"]
            return matched
        # Any other run of 7+ digits is treated as a phone number: it identifies something, and
        # failing closed costs an analyst a ticket number at worst.
        if "phone" in enabled:
            scan.counts["phone"] += 1
            return PLACEHOLDER["phone"]
        # Without the phone detector nothing else catches a card or SSN that merged with nearby
        # digits ("4111 1111 1111 1111 12/29", "123-45-6789 2"): look for one on group boundaries.
        found = _embedded_card_or_ssn(matched, enabled)
        if found:
            scan.counts[found] += 1
            return PLACEHOLDER[found]
        return matched

    def _secret(self, matched: str, scan: _Scan) -> str:
        if looks_secret(matched) or _KNOWN_SECRET.match(matched):
            scan.counts["secret"] += 1
            return PLACEHOLDER["secret"]
        # not random enough to be a secret, but it may still hide a card ("order4111…1111x")
        return self._run(matched, scan, exclude="secret")


_KNOWN_SECRET = re.compile(r"(?:gh[opusr]|github_pat)_|xox[abposr]-|sk-|AIza")


def _keep(matched: str, scan: _Scan) -> str:
    return matched


def _fixed(detector: str) -> Callable[[str, _Scan], str]:
    placeholder = PLACEHOLDER[detector]

    def handle(matched: str, scan: _Scan) -> str:
        scan.counts[detector] += 1
        return placeholder

    return handle


def _ssn_shape(matched: str) -> bool:
    compact = matched.replace(" ", "-").replace(".", "-")
    return bool(re.fullmatch(r"\d{3}-?\d{2}-?\d{4}", compact))


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit's Luhn value when doubled


def _embedded_card_or_ssn(matched: str, enabled: frozenset[str]) -> str | None:
    """'card' or 'ssn' if a run of whole digit groups inside `matched` validates as one.

    Linear in the length of `matched`: a run stops growing past 19 digits (the longest card),
    and its Luhn sums are kept for both parities as it grows instead of being recomputed. A long
    run of digit groups ("1.1.1.1...") made the naive version cubic.
    """
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", matched)]
    card, ssn = "card" in enabled, "ssn" in enabled
    for i, (start, _) in enumerate(groups):
        plain, doubled, n = [0, 0], [0, 0], 0
        for group_start, group_end in groups[i:]:
            if n + group_end - group_start > 19:
                break  # no card or SSN is longer
            for ch in matched[group_start:group_end]:
                d = int(ch)
                plain[n & 1] += d
                doubled[n & 1] += _DOUBLED[d]
                n += 1
            # the check digit is the last one: doubled are the digits at an odd distance from it
            if card and n >= 13 and (doubled[n & 1] + plain[1 - (n & 1)]) % 10 == 0:
                return "card"
            if ssn and n == 9:
                segment = matched[start:group_end]
                if ssn_valid("".join(c for c in segment if c.isdigit())) and _ssn_shape(segment):
                    return "ssn"
    return None


def _is_decimal(matched: str) -> bool:
    return matched.count(".") == 1 and matched.replace(".", "").isdigit()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _url_host(url: str) -> str | None:
    rest = url.split("://", 1)[1] if "://" in url else url
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = authority.rsplit("@", 1)[-1]  # user:password@ is never kept
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    else:
        host = host.split(":", 1)[0]
    host = host.strip(".")
    if not host or not re.fullmatch(r"[\w.-]{1,253}", host):
        return None
    return host


# Each alternative can only match if its trigger holds, and the triggers are cheap to test. Only
# the triggered alternatives are compiled into the pass (in their fixed order, so precedence is
# unchanged): a title without digits never pays for the number, date and IP alternatives.
_HAS_DIGIT = re.compile(r"\d").search
_SEVEN_DIGITS = re.compile(r"\d(?:(?:[ \-.()/]{0,2}| - )\d){6,}").search  # fewer: never redacted
_IBAN_START = re.compile(r"[A-Za-z]{2}\d{2}").search
_DOTTED_QUAD = re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d").search
_LONG_CHUNK = 20
_AWS_PREFIXES = ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA", "ABIA", "ACCA")


def _triggered(text: str) -> frozenset[str]:
    lower = text.lower()
    found: set[str] = set()
    if _HAS_DIGIT(text):
        if _SEVEN_DIGITS(text):
            found.update(("keep_date", "keep_time", "number", "glued_number"))
        if _DOTTED_QUAD(text):
            found.add("ipv4")
        if _IBAN_START(text):
            found.add("iban")
    if text.count(":") >= 2:
        found.add("ipv6")
    if "://" in text or "www." in lower:
        found.add("url")
    if "@" in text or ("at" in lower and ("[" in text or "(" in text)):
        found.add("email")
    if "eyJ" in text:
        found.add("jwt")
    if "PRIVATE KEY" in text:
        found.add("private_key")
    if "aws" in lower:
        found.add("aws_secret")
    if "A" in text and any(prefix in text for prefix in _AWS_PREFIXES):
        found.add("aws_key")
    # default=0: a text of 20+ blanks has no words at all, and max() of nothing raises
    if len(text) >= _LONG_CHUNK and max(map(len, text.split()), default=0) >= _LONG_CHUNK:
        found.add("secret")
    return frozenset(found)


@lru_cache(maxsize=512)
def _compile(alternatives: frozenset[str]) -> re.Pattern[str]:
    return re.compile(
        "|".join(
            f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS.items() if name in alternatives
        )
    )
