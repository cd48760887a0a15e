"""PII and secret detectors for the free text a policy keeps (docs/redaction.md).

One combined regex finds candidates in a single pass; Python validators (Luhn, mod-97, octet
ranges, entropy) decide, so a Luhn-invalid number is not a card. Text is normalized first so the
usual evasions fail: zero-width and bidi characters are removed, NFKC folds full-width digits and
look-alike '@' signs, Unicode dashes and dots become ASCII, and digit groups may be split by
spaces, dashes or dots. Matches become typed placeholders and are counted per detector; the
matched content goes nowhere.

A digit group is a phone number only when a numbering plan says so (libphonenumber's metadata,
via `phonenumbers`), as written: see `phone_number`. Order, invoice and build numbers, ISBNs and
counters are left alone; docs/redaction.md measures that on a corpus of ordinary UI text.

Ordering matters: the alternatives are tried left to right at each position, and a few
"keep" alternatives (dates, times) come first so that 2026-11-27 is never taken for a phone.
Only the alternatives whose triggers (TRIGGERS, necessary conditions) match a text take part in
its scan, and a text no trigger matches is not scanned at all; lambdas/core/prefilter.py finds
the triggers of a batch's many distinct texts in bulk. docs/redaction.md, "How it stays fast".
"""

from __future__ import annotations

import ipaddress
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import accumulate
from operator import eq
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import phonenumbers

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
            "\u200a\u202f\u205f\u3000\u2028\u2029\u1680",
            " ",
        ),
    }
)


_FOLDED = re.compile("[" + "".join(map(re.escape, map(chr, _FOLD))) + "]").search


def normalize(text: str) -> str:
    """Fold text to a canonical form in which look-alikes and invisible characters are gone."""
    if text.isascii():
        return _ASCII_CONTROL.sub(" ", text) if not text.isprintable() else text
    text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    if _FOLDED(text):  # translate() looks every character up: only when there is one to fold
        text = text.translate(_FOLD)
    text = _INVISIBLE.sub("", text)  # NFKC can expose new ones (e.g. from compatibility forms)
    if _OTHER_DIGIT(text):
        text = _OTHER_DIGITS.sub(_ascii_digit, text)
    return _CONTROL.sub(" ", text)


# Decimal digits of other scripts (Arabic-Indic, Devanagari, ...) become ASCII digits: a card
# number or an IP address in another script is still one, and the validators and the detectors'
# prefilter read ASCII digits.
_OTHER_DIGITS = re.compile(r"(?![0-9])\d")
_OTHER_DIGIT = _OTHER_DIGITS.search


def _ascii_digit(match: re.Match[str]) -> str:
    return str(unicodedata.decimal(match.group()))


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


@lru_cache(maxsize=8192)  # look-alikes repeat ("DE89 DE89 ..."): each is judged once
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


# --- phone numbers ----------------------------------------------------------------------------

# National numbers (no country code) are read as numbers of these plans, in this order: the
# countries whose ways of writing a number the detector is tested on. Written with a country
# code, a number of any plan is recognised.
PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR")

# Words that announce a phone number right before it ("tel 4155552671", "call 555-0132"). With
# one, an unbroken or short local number counts too; without, it must be written as one.
_PHONE_CUE = re.compile(
    r"(?i:\b(?:tel|tele|telephone|phone|ph|mobile|mob|cell|cellphone|fax|call|ring|dial|sms"
    r"|whatsapp|telefon|telefono|t[ée]l[ée]phone|t[ée]l|handy|portable|mobil))[\s:.#=/-]{0,3}$"
)
_SSN_CUE = re.compile(r"(?i:\b(?:ssn|ss#|social security(?: number| no\.?)?))[\s:.#=/-]{0,3}$")


@cache
def _trunk_prefix(region: str) -> str | None:
    import phonenumbers

    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return metadata.national_prefix if metadata is not None else None


_CUE_WINDOW = 24  # how far before a number its cue word may start


def _groups(matched: str) -> list[int]:
    return [len(g) for g in re.findall(r"\d+", matched)]


def _national_groups(number: phonenumbers.PhoneNumber) -> list[int]:
    import phonenumbers

    return _groups(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))


@lru_cache(maxsize=4096)  # titles repeat: the same number is judged once
def phone_number(matched: str, cued: bool = False) -> bool:
    """Whether a digit group is a phone number as written; `cued`: a word like "tel" precedes it.

    - With a country code ("+44 20 7946 0958", "+1 (555) 010-9999"): its length must be possible
      for that country's plan. "00" for "+" ("0044 20 7946 0958") needs a valid number, since
      zero-padded references ("0012345678") are common.
    - Without one it must be a valid number of a plan in PHONE_REGIONS, written as that plan
      writes it: digit groups as the national format groups them ("415-555-2671",
      "020 7946 0958", "06 12 34 56 78"), an area code in parentheses, or a trunk "0" and the
      area or mobile code as the first of several groups ("0151 12345678"). An unbroken run
      ("4155552671") or a short local number ("555-0132") needs a cue word.
    """
    # imported on the first candidate, not with the module: 25 ms off every cold start
    import phonenumbers

    digits = "".join(c for c in matched if c.isdigit())
    if not 7 <= len(digits) <= 17:
        return False
    if matched.startswith("+") or digits.startswith("00"):
        try:
            number = phonenumbers.parse("+" + digits.removeprefix("00"))
        except phonenumbers.NumberParseException:
            return False
        if matched.startswith("+"):
            return phonenumbers.is_possible_number(number)
        return phonenumbers.is_valid_number(number)
    groups = _groups(matched)
    if len(groups) == 1 and not cued and not matched.startswith("("):
        return False  # an unbroken national number counts only after a cue word
    for region in PHONE_REGIONS:
        if digits[0] != "0" and _trunk_prefix(region) == "0":
            continue  # written nationally, a number of this plan starts with its trunk "0"
        try:
            number = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            if cued and phonenumbers.is_possible_number(number):
                return True  # a local number without its area code, announced as a phone
            continue
        if cued or matched.startswith("("):
            return True
        national = _national_groups(number)
        if groups == national or (groups == [1, *national] and digits[0] == "1"):
            return True
        # a trunk "0" and the area (or mobile) code as one group, the rest written any way
        ndc = phonenumbers.length_of_national_destination_code(number)
        if digits[0] == "0" and len(groups) > 1 and groups[0] in (ndc, ndc + 1):
            return True
    return False


@lru_cache(maxsize=8192)  # the same numbers recur in a text and across a batch's texts
def _number_kind(
    matched: str, enabled: frozenset[str], phone_cued: bool, ssn_cued: bool
) -> str | None:
    """The detector a digit group is a find of ("card", "ssn", "phone"), or None."""
    digits = "".join(c for c in matched if c.isdigit())
    n = len(digits)
    if "card" in enabled and 13 <= n <= 19 and card_number(matched, digits):
        return "card"
    if "ssn" in enabled and n == 9 and ssn_valid(digits) and _ssn_shape(matched, ssn_cued):
        return "ssn"
    if n < 7 or _DATE_LIKE.fullmatch(matched):
        return None
    if _is_decimal(matched):
        # an amount or a measurement, unless its integer part is a card ("4111…1111.50")
        return "card" if _embedded_card_or_ssn(matched, enabled & {"card"}) == "card" else None
    if "phone" in enabled and phone_number(matched, phone_cued):
        return "phone"
    # Digit groups split by single spaces merge into one run ("4111 1111 1111 1111 12/29",
    # "123-45-6789 2"): a card or SSN may hide inside one that is no phone number.
    return _embedded_card_or_ssn(matched, enabled, ssn_cued)


def card_number(matched: str, digits: str) -> bool:
    """A Luhn-valid 13-19 digit number written as cards are written: unbroken, or in groups of
    at most six digits (4-4-4-4, 4-6-5, or split further to evade), not after a "+" or a 0,
    and no ISBN-13. One number in ten passes Luhn by chance: a build "2027.11.2626883" and a
    phone number "0044 121 234 8748" are no cards."""
    groups = _groups(matched)
    return (
        not matched.startswith("+")  # a country code: a phone number
        and digits[0] != "0"  # no card number starts with 0 (ISO/IEC 7812); trunk prefixes do
        and luhn_valid(digits)
        and (len(groups) == 1 or max(groups) <= _CARD_GROUP)
        and not _isbn13(digits)
    )


_CARD_GROUP = 6  # the longest digit group of a card written in groups (Amex 4-6-5)


def _isbn13(digits: str) -> bool:
    """978/979, 13 digits and the ISBN's own check digit: a book, not a card."""
    return (
        len(digits) == 13
        and digits[:3] in ("978", "979")
        and sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(digits)) % 10 == 0
    )


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


_IDENTIFIER_PARTS = re.compile(r"[_.\-/]").split


def looks_secret(token: str) -> bool:
    """A long token that mixes character classes and is close to random."""
    n = len(token)
    has_digit = any(c.isdigit() for c in token)
    has_upper = any(c.isupper() for c in token)
    has_lower = any(c.islower() for c in token)
    if n >= 32 and all(c in "0123456789abcdefABCDEF" for c in token):
        return has_digit and (has_lower or has_upper)  # hex digests, API keys
    parts = _IDENTIFIER_PARTS(token)
    if all(part.isalpha() or part.isdigit() or len(part) <= 2 for part in parts):
        return False  # words and numbers joined: "migration_20261127104500_add_q3_index"
    classes = has_digit + has_upper + has_lower + any(not c.isalnum() for c in token)
    if classes < 3 or not has_digit:
        return False
    return shannon_entropy(token) >= (3.7 if n < 32 else 4.0)


# --- the combined pattern --------------------------------------------------------------------

_SEP = r"[ \-.]{0,2}"  # how digit groups get split by humans and evaders alike

# The top-level domain a spelled-out address ("jane at example dot com") must end in, so that
# ordinary English with "at" and "dot" in it is no address: a few generic ones and the country
# codes. After the word "dot", country codes that are English words ("the dot in the corner") do
# not count.
_GENERIC_TLDS = "com net org edu gov mil int info biz"
_COUNTRY_TLDS = (
    "ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs "
    "bt bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee "
    "eg er es et eu fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk "
    "hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la "
    "lb lc li lk lr ls lt lu lv ly ma mc md me mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my "
    "mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro "
    "rs ru rw sa sb sc sd se sg sh si sk sl sm sn so sr ss st sv sx sy sz tc td tf tg th tj tk tl "
    "tm tn to tr tt tv tw tz ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw"
)
_ENGLISH_TLDS = "am as at be by do id in is it me my no so to us"


def _one_of(words: Iterable[str]) -> str:
    """A regex for any of `words` (letters only), two-letter ones grouped by their first letter."""
    pairs: dict[str, str] = {}
    longer = []
    for word in sorted(set(words)):
        if len(word) == 2:
            pairs[word[0]] = pairs.get(word[0], "") + word[1]
        else:
            longer.append(word)
    return "(?:" + "|".join([*longer, *(f"{a}[{b}]" for a, b in pairs.items())]) + ")"


_TLD = _one_of([*_GENERIC_TLDS.split(), *_COUNTRY_TLDS.split()])
_TLD_AFTER_WORD = _one_of(
    {*_GENERIC_TLDS.split(), *_COUNTRY_TLDS.split()} - set(_ENGLISH_TLDS.split())
)
_AT_WORD = r"[\[(]\s*at\s*[\])]"  # "[at]", "(at)"
_DOT_WORD = r"[\[(]\s*dot\s*[\])]"
# what an AWS access key id starts with (user, role, group, temporary credentials...)
AWS_KEY_PREFIXES = ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA", "ABIA", "ACCA")
_KEY_PREFIX = "|".join(AWS_KEY_PREFIXES)
_PATTERNS: dict[str, str] = {
    # keep: ISO dates with optional time, clock times; listed first so they are never numbers
    # (local dates too, day or month first: "27.11.2026 10:30", "11/27/2026 3:04 PM")
    "keep_date": (
        r"(?<!\d)(?:\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?"
        r"|(?:0?[1-9]|[12]\d|3[01])[./-](?:0?[1-9]|[12]\d|3[01])[./-](?:19|20)\d{2}"
        r"(?:,? \d{1,2}:\d{2}(?::\d{2})?)?"
        r"|(?:19|20)\d{2}[./](?:0?[1-9]|1[0-2])[./](?:0?[1-9]|[12]\d|3[01])"
        r"(?: \d{1,2}:\d{2}(?::\d{2})?)?"
        # compact timestamps ("20261127-104500", "migration_20261127104500"): no card
        # issuer's numbers start with 19 or 20
        r"|(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
        r"(?:[-T_]?(?:[01]\d|2[0-3])[0-5]\d(?:[0-5]\d)?)?)(?!\d)(?![.:/-]\d)"
    ),
    "keep_time": r"(?<![\d:])\d{1,2}:\d{2}(?::\d{2})?(?![\d:])",
    "private_key": (
        r"(?s:-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----.*?"
        r"(?:-----END[A-Z ]{0,40}PRIVATE KEY-----|\Z))"
    ),
    "jwt": r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
    "url": r"(?i:\b(?:https?|ftp|wss?|file|smb)://[^\s<>\"'`]+|\bwww\.[^\s<>\"'`]+)",
    "email": (
        # (possessive: what a shorter name or label leaves could never start "@", "at" or "dot")
        r"(?i:(?<![\w.+%'-])[\w.+%'-]++(?:"
        # "@" or "[at]": any domain, its labels joined by ".", "[dot]" (spaced or not) or "dot"
        rf"\s*(?:@|{_AT_WORD})\s*[\w-]++(?:(?:\s*(?:\.|{_DOT_WORD})\s*|\s+dot\s+)[\w-]++)+"
        # "at" as a word ("jane at example dot co dot uk", "jane at example.com"): only if the
        # address ends in a top-level domain
        rf"|\s+at\s+(?!www\.)[\w-]++(?:(?:\.|\s*{_DOT_WORD}\s*|\s+dot\s+)[\w-]++)*"
        rf"(?:(?:\.|\s*{_DOT_WORD}\s*){_TLD}|\s+dot\s+{_TLD_AFTER_WORD})(?![\w-]|\.[\w-])))"
    ),
    "aws_key": (
        rf"(?<![A-Za-z0-9])(?:(?:{_KEY_PREFIX})"
        r"(?:[ -]?[A-Z0-9]){16}"
        # any (ASCII) case ("akiaiosfodnn7example"), unbroken or in dash-joined fours, with a
        # digit: a word that starts like a key id ("asiapacificregionsxx") has none
        rf"|(?ai:(?:{_KEY_PREFIX.lower()})"
        r"(?:(?=[a-z0-9]{0,15}\d)[a-z0-9]{16}|(?=[a-z0-9-]{0,19}\d)(?:-[a-z0-9]{4}){4})))"
        r"(?![A-Za-z0-9])"
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
    # may be split by up to two separators, or by a spaced dash ("4111 - 1111 - 1111 - 1111"),
    # or joined by underscores as cards are printed: fours (4-4-4-4, the last group 1-4 digits,
    # 13-20 in all) or 4-6-4/5 ("card_4111_1111_1111_1111"; "build_2027_11_26", "1_000_000" and
    # "test_8246_12050_13501" are no such groups)
    "number": (
        r"(?<![A-Za-z0-9])(?:\d{4}(?:_\d{6}_\d{4,5}|(?:_\d{4}){2,3}_\d{1,4})"
        r"|[+(]?\d(?:(?:[ \-.()/]{0,2}| - )\d)+)(?![A-Za-z0-9])"
    ),
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
    # (the first look-behind only saves the others their work: most characters follow no slash)
    r"(?i:(?<=[\\/])(?:(?<=\\Users\\)|(?<=\\Documents and Settings\\)|(?<=/home/)|(?<=/Users/)"
    # and after a backslash, as on a share: \\fs\Users\jdoe, \\fs\c$\Users\jdoe, \\fs\home$\jdoe
    r"|(?<=\\home\\)|(?<=\\home\$\\)|(?<=\\homes\\)|(?<=\\homes\$\\)|(?<=\\users\$\\)"
    r"|(?<=\\profiles\\)|(?<=\\profiles\$\\))"
    # another user's home: ~jdoe/notes.txt (not ~/src, not PROGRA~1, not in a URL's path)
    r"|(?<=~)(?<![\w~/\\.:%-]~)(?=[a-z_][\w.-]*/))"
    # a name that already is the placeholder (an agent redacted it) is neither replaced nor counted
    r"(?!<USER>(?:[\\/\s]|$))"
    r"[^\\/\s]+"
)
_DATE_LIKE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./-]\d{1,2}[./-]\d{1,2}")


_NO_COUNTS: dict[str, int] = {}  # shared by every text nothing was found in: never mutated


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
        self._handlers: dict[str, Callable[[str, _Scan], str | None]] = {
            "keep_date": _keep,
            "keep_time": _keep,
            "private_key": _fixed("private_key"),
            "jwt": _fixed("jwt"),
            "url": self._url,
            "email": _email,
            "aws_key": _fixed("aws_key"),
            "aws_secret": _fixed("aws_secret"),
            "iban": self._iban,
            "ipv4": self._ip,
            "ipv6": self._ip,
            "number": self._number,
            "glued_number": self._number,
            "secret": self._secret,
        }

    def redact(self, text: str, triggered: frozenset[str] | None = None) -> Redaction:
        """`text` with what the detectors find replaced, and the counts. `triggered`: the
        triggers of the normalized text when they are known already (the bulk prefilter)."""
        text = normalize(text)
        if triggered is None:
            triggered = _triggered(text)
        # The triggers of the text before user names are replaced hold after: a name replaced by
        # <USER> takes whatever it held with it and joins nothing (the placeholder's < and >
        # end any run), so the substitution can only make the set larger than it needs to be.
        users = 0
        if "path_user" in self.enabled and ("/" in text or "\\" in text):
            text, users = _PATH_USER.subn(PLACEHOLDER["path_user"], text)
        candidates = triggered & self._alternatives
        if not candidates:  # most texts: no scan, no counter
            return Redaction(text, {"path_user": users} if users else _NO_COUNTS)
        scan = _Scan(self.enabled, self.url_mode)
        if users:
            scan.counts["path_user"] += users
        return Redaction(self._run(text, scan, candidates=candidates), dict(scan.counts))

    # -- internals --

    def _run(
        self,
        text: str,
        scan: _Scan,
        exclude: str | None = None,
        candidates: frozenset[str] | None = None,
    ) -> str:
        if candidates is None:
            candidates = _triggered(text) & self._alternatives
        if exclude is not None:
            candidates -= {exclude}
        if not candidates:
            return text

        # A manual scan rather than re.sub: a candidate that fails validation is no find. The
        # other alternatives are tried where it started (a token too regular for a secret may
        # hold a card; a failed IBAN may be a secret), then the scan goes on from the next
        # character, in the text as it is: each position is scanned once, however many
        # look-alikes overlap there.
        pattern = _compile(candidates)
        pieces: list[str] = []
        last = pos = 0
        failed: frozenset[str] = frozenset()  # alternatives that failed at the current start
        forced: re.Match[str] | None = None
        while True:
            m = forced if forced is not None else pattern.search(text, pos)
            forced = None
            if m is None:
                break
            name = m.lastgroup
            assert name is not None
            start, end = m.span()
            if name in ("number", "glued_number"):
                cue = text[max(0, start - _CUE_WINDOW) : start]
                found: str | None = self._number(m.group(), scan, cue)
            else:
                found = self._handlers[name](m.group(), scan)
            if found is None:
                failed |= {name}
                rest = candidates - failed
                forced = _compile(rest).match(text, start) if rest else None
                if forced is None:
                    failed, pos = frozenset(), start + 1
                continue
            failed = frozenset()
            pieces.append(text[last:start])
            pieces.append(found)
            last = pos = end
        if not pieces:
            return text
        pieces.append(text[last:])
        return "".join(pieces)

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

    def _iban(self, matched: str, scan: _Scan) -> str | None:
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
        return None  # no IBAN here: the scan goes on from the next character

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

    def _number(self, matched: str, scan: _Scan, before: str = "") -> str:
        """A digit group: a card, an SSN, a phone number, or a number that stays (an order,
        a build, an amount); `before` is the text just before it, for a cue word."""
        if len(matched) < 7:
            return matched  # fewer than seven digits: never redacted
        found = _number_kind(
            matched, scan.enabled, bool(_PHONE_CUE.search(before)), bool(_SSN_CUE.search(before))
        )
        if found is None:
            return matched
        scan.counts[found] += 1
        return PLACEHOLDER[found]

    def _secret(self, matched: str, scan: _Scan) -> str | None:
        if looks_secret(matched) or _KNOWN_SECRET.match(matched):
            scan.counts["secret"] += 1
            return PLACEHOLDER["secret"]
        # not random enough to be a secret, but it may still hide a card ("order4111…1111x"):
        # the scan tries the other alternatives where the token starts
        return None


_KNOWN_SECRET = re.compile(r"(?:gh[opusr]|github_pat)_|xox[abposr]-|sk-|AIza")


# An address with "@", "[at]", "(at)" or a spelled "dot" in it is one; "at" as a word and real
# dots alone ("Download at github.com", "Error at main.py") are ordinary text unless the name
# before "at" is shaped like an address's own (a dot, digit or sign in it: "jane.roe at ...").
_ADDRESS_SIGN = re.compile(r"(?i:@|[\[(]\s*(?:at|dot)\s*[\])]|\sdot\s)").search
_LOCAL_PART_SIGN = re.compile(r"[\d._+%'-]").search


def _email(matched: str, scan: _Scan) -> str | None:
    if not _ADDRESS_SIGN(matched) and not _LOCAL_PART_SIGN(matched.split(None, 1)[0]):
        return None
    scan.counts["email"] += 1
    return PLACEHOLDER["email"]


def _keep(matched: str, scan: _Scan) -> str:
    return matched


def _fixed(detector: str) -> Callable[[str, _Scan], str]:
    placeholder = PLACEHOLDER[detector]

    def handle(matched: str, scan: _Scan) -> str:
        scan.counts[detector] += 1
        return placeholder

    return handle


def _ssn_shape(matched: str, cued: bool = False) -> bool:
    """Written as an SSN: 3-2-4 digit groups, or nine digits in a row after a word like "SSN"
    (an unbroken nine-digit run alone is more often an order or a material number)."""
    compact = matched.replace(" ", "-").replace(".", "-")
    return bool(re.fullmatch(r"\d{3}-\d{2}-\d{4}" if not cued else r"\d{3}-?\d{2}-?\d{4}", compact))


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit's Luhn value when doubled


def _embedded_card_or_ssn(
    matched: str, enabled: frozenset[str], ssn_cued: bool = False
) -> str | None:
    """'card' or 'ssn' if a run of whole digit groups inside `matched` validates as one.

    Linear in the length of `matched`: a run stops growing past 19 digits (the longest card),
    and its Luhn sums are kept for both parities as it grows instead of being recomputed. A long
    run of digit groups ("1.1.1.1...") made the naive version cubic.
    """
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", matched)]
    card, ssn = "card" in enabled, "ssn" in enabled
    if len(groups) > _MANY_GROUPS:
        return _embedded_in_long_run(matched, card, ssn, ssn_cued)
    for i, (start, _) in enumerate(groups):
        plain, doubled, n, longest = [0, 0], [0, 0], 0, 0
        for count, (group_start, group_end) in enumerate(groups[i:], start=1):
            if n + group_end - group_start > 19:
                break  # no card or SSN is longer
            longest = max(longest, group_end - group_start)
            for ch in matched[group_start:group_end]:
                d = int(ch)
                plain[n & 1] += d
                doubled[n & 1] += _DOUBLED[d]
                n += 1
            # the check digit is the last one: doubled are the digits at an odd distance from it
            if (
                card
                and n >= 13
                and (doubled[n & 1] + plain[1 - (n & 1)]) % 10 == 0
                and (count == 1 or longest <= _CARD_GROUP)
                and not _isbn13(_digits_of(matched[start:group_end]))
            ):
                return "card"
            if ssn and n == 9:
                segment = matched[start:group_end]
                if ssn_valid(_digits_of(segment)) and _ssn_shape(segment, ssn_cued):
                    return "ssn"
    return None


# A run of this many digit groups is no reference a person writes; "1.1.1.1...", made to be
# slow, is. Past it, cards are looked for in every window of 13-19 digits, whole groups or not
# (fail closed: a superset of the windows above), in a few vectorized passes over the run.
_MANY_GROUPS = 24


def _embedded_in_long_run(matched: str, card: bool, ssn: bool, ssn_cued: bool) -> str | None:
    if card and _luhn_window(_digits_of(matched)):
        return "card"
    if ssn:
        shape = _SSN_IN_RUN_CUED if ssn_cued else _SSN_IN_RUN
        dashed = matched.translate(_DASHED)
        if any(ssn_valid(m.group(1).replace("-", "")) for m in shape.finditer(dashed)):
            return "ssn"
    return None


_SSN_IN_RUN = re.compile(r"(?<!\d)(?=(\d{3}-\d{2}-\d{4}))(?!\d{3}-\d{2}-\d{5})")
_SSN_IN_RUN_CUED = re.compile(r"(?<!\d)(?=(\d{3}-?\d{2}-?\d{4}))(?!\d{3}-?\d{2}-?\d{5})")
_DASHED = str.maketrans(" .", "--")


def _luhn_window(digits: str) -> bool:
    """Whether any 13-19 consecutive digits of `digits` pass the Luhn check, with prefix sums:
    a window [s, e) doubles the digits at positions of e's parity, so it passes when the running
    sum that doubles that parity ends in the same digit at s and at e."""
    values = [int(c) for c in digits]
    doubled = [_DOUBLED[v] for v in values]
    even = [d if i % 2 == 0 else v for i, (v, d) in enumerate(zip(values, doubled, strict=True))]
    odd = [v if i % 2 == 0 else d for i, (v, d) in enumerate(zip(values, doubled, strict=True))]
    sums = (
        [total % 10 for total in accumulate(even, initial=0)],
        [total % 10 for total in accumulate(odd, initial=0)],
    )
    n = len(values)
    for length in range(13, 20):
        for parity in (0, 1):
            first = length + (length + parity) % 2  # the first window end of this parity
            if first <= n:
                ends, starts = sums[parity][first::2], sums[parity][first - length :: 2]
                if any(map(eq, ends, starts)):
                    return True
    return False


def _digits_of(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


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


# Each alternative can only alter a text if its trigger matches somewhere in it: a trigger is a
# necessary condition, cheap to test. Only the triggered alternatives are compiled into the pass
# (in their fixed order, so precedence is unchanged), and a text no trigger matches (most titles,
# labels and menu items) is never scanned. The same patterns run in bulk over a batch's distinct
# texts in RE2 (lambdas/core/prefilter.py), so they use only what both engines read alike: no
# lookaround, ASCII classes spelled out.
_NUMBERS = ("keep_date", "keep_time", "number", "glued_number")
# a key id's prefix in any ASCII case ("akia", "AkIa"), spelled out for both engines alike
_ANY_CASE_PREFIX = "|".join("".join(f"[{c}{c.lower()}]" for c in p) for p in AWS_KEY_PREFIXES)
# (patterns that must all match somewhere, the alternatives they enable)
TRIGGERS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    # seven digits or more, joined as the number alternative joins them (underscores too: cards
    # printed "4111_1111_1111_1111") and bounded by no letter or digit on either side: fewer
    # digits, or a run glued to a word, is never redacted (lazy, so a failing start costs its
    # unbroken digits only)
    (
        (r"(?:^|[^A-Za-z0-9])[0-9](?:(?:[ \-.()/_]{0,2}| - )[0-9]){6,}?(?:[^A-Za-z0-9]|$)",),
        _NUMBERS,
    ),
    ((r"[A-Za-z_][0-9]{7}",), _NUMBERS),  # a long run glued to letters ("tel4155552671")
    ((r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]",), ("ipv4",)),
    ((r":", r":[^:]*:"), ("ipv6",)),
    ((r"(?:^|[^A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:[ -]?[A-Za-z0-9]){11}",), ("iban",)),
    ((r"://|(?i:www\.)",), ("url",)),
    ((r"@",), ("email",)),
    ((r"(?i:at)", r"[\[(]"), ("email",)),  # "jane [at] example"
    # "jane at example dot com", "jane at example.com": "at" as a word, and a dot
    ((r"(?i:\sat\s)", r"\.|(?i:\sdot\s)"), ("email",)),
    ((r"eyJ",), ("jwt",)),
    ((r"PRIVATE KEY",), ("private_key",)),
    ((r"(?i:aws)",), ("aws_secret",)),
    ((rf"(?:{_ANY_CASE_PREFIX})[A-Za-z0-9 -]{{16}}",), ("aws_key",)),
    # every secret alternative is 20 or more of these characters, but a Slack token (15)
    ((r"[A-Za-z0-9+/=_-]{20}|xox[abposr]-[A-Za-z0-9-]{10}",), ("secret",)),
)

# One text at a time (the agent, and texts the bulk prefilter did not see), the same triggers are
# asked in straight-line code, each behind a guard that plain string methods answer and that the
# trigger implies: Python's regex engine tries an unanchored pattern at every position.
_SEARCH = tuple(re.compile(pattern).search for patterns, _ in TRIGGERS for pattern in patterns)
_ALTERNATIVES = tuple(frozenset(alternatives) for _, alternatives in TRIGGERS)
_BOUNDED_DIGITS, _GLUED_DIGITS, _DOTTED_QUAD, *_, _IBAN_SHAPE = _SEARCH[:6]
_SPELLED_AT, _SPELLED_DOT = _SEARCH[10:12]
_AWS_PREFIX, _SECRET_RUN = _SEARCH[-2:]
_DIGIT_RUN = re.compile(r"\d(?:(?:[ \-.()/_]{0,2}| - )\d){6,}").search
_HAS_DIGIT = re.compile(r"\d").search
_IBAN_START = re.compile(r"[A-Za-z]{2}\d{2}").search
_NUMBER_ALTERNATIVES, _IPV4, _IPV6, _IBAN, _URL, _EMAIL = (
    _ALTERNATIVES[i] for i in (0, 2, 3, 4, 5, 6)
)
_JWT, _KEY, _AWS_SECRET, _AWS, _SECRET = _ALTERNATIVES[9:]


def _triggered(text: str) -> frozenset[str]:
    """The alternatives whose triggers (TRIGGERS) match `text`, a normalized text."""
    lower = text.lower()
    found: set[str] = set()
    if _HAS_DIGIT(text):
        if _DIGIT_RUN(text) and (_BOUNDED_DIGITS(text) or _GLUED_DIGITS(text)):
            found |= _NUMBER_ALTERNATIVES
        if "." in text and _DOTTED_QUAD(text):
            found |= _IPV4
        if _IBAN_START(text) and _IBAN_SHAPE(text):
            found |= _IBAN
    if text.count(":") >= 2:
        found |= _IPV6
    if "://" in text or "www." in lower:
        found |= _URL
    if (
        "@" in text
        or ("at" in lower and ("[" in text or "(" in text))
        or ("at" in lower and _SPELLED_AT(text) and _SPELLED_DOT(text))
    ):
        found |= _EMAIL
    if "eyJ" in text:
        found |= _JWT
    if "PRIVATE KEY" in text:
        found |= _KEY
    if "aws" in lower:
        found |= _AWS_SECRET
    if len(text) >= _AWS_KEY_LENGTH and _AWS_PREFIX(text):  # a prefix in any case
        found |= _AWS
    if (
        len(text) >= _SHORTEST_SECRET
        and max(map(len, text.split()), default=0) >= _SHORTEST_SECRET
        and _SECRET_RUN(text)
    ):
        found |= _SECRET
    return frozenset(found)


_AWS_KEY_LENGTH = 20
_SHORTEST_SECRET = 15


@lru_cache(maxsize=4096)
def triggered_by(bits: int) -> frozenset[str]:
    """The alternatives of a set of triggers, bit i for TRIGGERS[i] (the bulk prefilter's form)."""
    found: frozenset[str] = frozenset()
    for i, alternatives in enumerate(_ALTERNATIVES):
        if bits >> i & 1:
            found |= alternatives
    return found


def clear_caches() -> None:
    """Forget the memoized verdicts (numbers, IBAN look-alikes): a benchmark's cold pass."""
    phone_number.cache_clear()
    _number_kind.cache_clear()
    longest_iban.cache_clear()


@lru_cache(maxsize=512)
def _compile(alternatives: frozenset[str]) -> re.Pattern[str]:
    return re.compile(
        "|".join(
            f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS.items() if name in alternatives
        )
    )
