"""Java regular expressions of the botocore models, compiled for Python (a helper, not a patch).

The models' `pattern` traits are written for Java's `java.util.regex`. `compile_java()`
translates what Python's `re` spells differently:

- `\\p{L}`, `\\p{N}`, `\\P{C}` ... (Unicode general categories, negated ones too), `\\p{Alnum}`, `\\p{Print}`,
  `\\p{ASCII}` ... (POSIX classes), `\\p{IsAlphabetic}`, `\\p{IsWhitespace}`: expanded into
  explicit code-point ranges (built once from `unicodedata`);
- `\\z` (end of input) -> `\\Z`; `\\x{HHHH}` -> the character;
- UTF-16 surrogate pairs (`\\uD800\\uDC00-\\uDBFF\\uDFFF`) and the `\\u10000`-style
  escapes some models use -> astral code points;
- a `-` right after a class escape inside a set (`[\\w-_]`, a literal hyphen in Java).

Patterns that still do not compile (set intersections `&&`, flags in mid-pattern, ...)
return None: the validator skips them and logs each once.
"""

from __future__ import annotations

import re
import sys
import threading
import unicodedata
import warnings

_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "A-Za-z",
    "Digit": "0-9",
    "Alnum": "A-Za-z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
    "all": "\\x00-\\U0010ffff",
}

_categories: dict[str, Ranges] | None = None
_categories_lock = threading.Lock()


Ranges = list[tuple[int, int]]


def _ranges(points: list[int]) -> Ranges:
    out: Ranges = []
    start = prev = None
    for cp in points:
        if start is None:
            start = prev = cp
        elif cp == prev + 1:
            prev = cp
        else:
            out.append((start, prev))
            start = prev = cp
    if start is not None:
        out.append((start, prev))
    return out


def _complement(ranges: Ranges) -> Ranges:
    out: Ranges = []
    next_start = 0
    for a, b in ranges:
        if a > next_start:
            out.append((next_start, a - 1))
        next_start = b + 1
    if next_start <= sys.maxunicode:
        out.append((next_start, sys.maxunicode))
    return out


def _set_body(ranges: Ranges) -> str:
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


def _category_classes() -> dict[str, Ranges]:
    """Set bodies for each Unicode general category (`Lu`) and major class (`L`)."""
    global _categories
    if _categories is None:
        with _categories_lock:
            if _categories is None:
                points: dict[str, list[int]] = {}
                for cp in range(sys.maxunicode + 1):
                    points.setdefault(unicodedata.category(chr(cp)), []).append(cp)
                majors: dict[str, list[int]] = {}
                for cat, cps in points.items():
                    majors.setdefault(cat[0], []).extend(cps)
                classes = {cat: _ranges(cps) for cat, cps in points.items()}
                classes.update({major: _ranges(sorted(cps)) for major, cps in majors.items()})
                alphabetic = sorted(majors["L"] + points.get("Nl", []))
                classes["IsAlphabetic"] = _ranges(alphabetic)
                classes["IsWhitespace"] = _ranges([cp for cp in range(sys.maxunicode + 1) if chr(cp).isspace()])
                classes["LD"] = _ranges(sorted(majors["L"] + points.get("Nd", [])))
                _categories = classes
    return _categories


def warm_up() -> None:
    """Build the Unicode tables in the background, so the first request does not wait."""
    threading.Thread(target=_category_classes, name="testbed-unicode", daemon=True).start()


def _property(name: str, negated: bool) -> str | None:
    """The body of a set matching \\p{name} (or \\P{name} when negated)."""
    if name in _POSIX:
        if negated:
            return None
        return _POSIX[name]
    classes = _category_classes()
    ranges = classes.get(name)
    if ranges is None and name.startswith("Is"):
        ranges = classes.get(name[2:])
    if ranges is None:
        return None
    return _set_body(_complement(ranges) if negated else ranges)


_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


def _combine(match: re.Match[str]) -> str:
    high, low = int(match.group(1), 16), int(match.group(2), 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


def translate(pattern: str) -> str | None:
    pattern = _SURROGATE_PAIR.sub(_combine, pattern)
    if pattern.startswith("^(?i)"):  # Java takes a flag anywhere; Python only at the start
        pattern = "(?i)^" + pattern[5:]
    pattern = pattern.replace("\\u10000", "\\U00010000").replace("\\u10FFFF", "\\U0010ffff").replace("\\u10ffff", "\\U0010ffff")
    out: list[str] = []
    i, n = 0, len(pattern)
    in_set = False
    set_start = 0
    after_class_escape = False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "pP" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                if end < 0:
                    return None
                body = _property(pattern[i + 3 : end], negated=nxt == "P")
                if body is None:
                    return None
                out.append(body if in_set else f"[{body}]")
                i = end + 1
                after_class_escape = in_set
                continue
            if nxt == "z":
                out.append("\\Z")
                i += 2
                continue
            if nxt == "x" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                if end < 0:
                    return None
                out.append(f"\\U{int(pattern[i + 3 : end], 16):08x}")
                i = end + 1
                continue
            out.append(pattern[i : i + 2])
            after_class_escape = in_set and nxt in "wWdDsS"
            i += 2
            continue
        if in_set:
            if c == "-" and after_class_escape:
                out.append("\\-")
                i += 1
                after_class_escape = False
                continue
            if c == "[" :
                return None  # nested sets (unions) are Java-only
            if c == "&" and pattern.startswith("&&", i):
                return None
            if c == "]" and i > set_start:
                in_set = False
            out.append(c)
            after_class_escape = False
            i += 1
            continue
        if c == "[":
            in_set = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # a leading ] is a literal
                out.append("\\]")
                i += 1
            set_start = i
            continue
        out.append(c)
        i += 1
    return "".join(out)


_compiled: dict[str, re.Pattern[str] | None] = {}


def compile_java(pattern: str) -> re.Pattern[str] | None:
    """The Python regex for a model pattern (cached), or None when it cannot be compiled."""
    if pattern in _compiled:
        return _compiled[pattern]
    compiled = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "possible set union": Java reads those as literals too
        try:
            compiled = re.compile(pattern)
        except re.error:
            translated = translate(pattern)
            if translated is not None:
                try:
                    compiled = re.compile(translated)
                except re.error:
                    compiled = None
    _compiled[pattern] = compiled
    return compiled
