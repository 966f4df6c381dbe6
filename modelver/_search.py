"""Search expressions: a tokenizer and a recursive-descent parser to frozen values.

``where`` and ``order_by`` of :func:`modelver.search` are read here, and nowhere is
``eval`` or string-built SQL involved: the parser accepts only this grammar and turns it
into an AST (:class:`Compare`, :class:`In`, :class:`And`, :class:`Or`, :class:`Not`,
:class:`OrderKey`), which :mod:`modelver._index.search` compiles to SQL with every value
a bound parameter. Anything else is :class:`~modelver._errors.QueryError`, whose message
points at the bad token.

::

    where      := or EOF
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" or ")" | comparison
    comparison := field OP literal | field ["not"] "in" "(" literal ("," literal)* [","] ")"
    OP         := "==" | "!=" | "<" | "<=" | ">" | ">="
    field      := name ("." (name | string))*
    literal    := string | number | "true" | "false"
    order_by   := field ["asc" | "desc"] ("," field ["asc" | "desc"])* EOF

Keywords are case-insensitive. Strings take either quote, with backslash escapes
(``\\'``, ``\\"``, ``\\\\``, ``\\n``, ``\\t``). Numbers are decimal, optionally negative,
with a fraction and an exponent (``-1``, ``0.25``, ``1e-3``).
"""

from __future__ import annotations

import re
from typing import TypeAlias

import attrs

from ._errors import QueryError
from ._names import closest

__all__ = ["FIELDS", "KEYED", "And", "Compare", "Field", "In", "Literal", "Node", "Not", "Or",
           "OrderKey", "parse_order", "parse_where"]

# The fields with one value per version, and the fields that take a key.
FIELDS = ("name", "version", "created_at", "created_by", "format", "alias")
KEYED = ("params", "metrics", "tags", "data")
_ALL = FIELDS + KEYED
_OPS = ("==", "!=", "<=", ">=", "<", ">")
_KEYWORDS = ("and", "or", "not", "in", "true", "false", "asc", "desc")
MAX_LENGTH = 10_000
_MAX_DEPTH = 64

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>-?(?:\d[\d.]*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
  | (?P<string>["'])
  | (?P<op>==|!=|<=|>=|<|>)
  | (?P<punct>[().,])
""", re.VERBOSE)
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}


@attrs.frozen
class Token:
    """One token: its kind (``name``, ``string``, ``number``, ``op``, a punctuation
    character, or ``end``), its value and where it starts and ends in the text."""

    kind: str
    value: str
    pos: int
    end: int


@attrs.frozen
class Field:
    """A field reference: ``kind`` is one of :data:`FIELDS` or :data:`KEYED`; ``key`` is
    the key of a keyed field (``params.opt.lr`` has key ``opt.lr``), else None."""

    kind: str
    key: str | None
    pos: int
    end: int

    @property
    def text(self) -> str:
        """The field as written in a query (``metrics.auc``)."""
        if self.kind == "data":
            return f"data.{self.key}.digest"
        return self.kind if self.key is None else f"{self.kind}.{self.key}"


@attrs.frozen
class Literal:
    """A literal value: a string, a number (a float), or a boolean."""

    value: str | float | bool
    pos: int
    end: int


@attrs.frozen
class Compare:
    """``field OP literal``."""

    field: Field
    op: str
    value: Literal


@attrs.frozen
class In:
    """``field in (literal, …)``, or ``not in`` when ``negated``."""

    field: Field
    values: tuple[Literal, ...]
    negated: bool = False


@attrs.frozen
class And:
    """Both sides hold."""

    left: Node
    right: Node


@attrs.frozen
class Or:
    """Either side holds."""

    left: Node
    right: Node


@attrs.frozen
class Not:
    """The operand does not hold."""

    operand: Node


Node: TypeAlias = Compare | In | And | Or | Not


@attrs.frozen
class OrderKey:
    """One key of an order: a field, ascending unless ``descending``."""

    field: Field
    descending: bool = False


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token; raises ``QueryError``."""
    if len(text) > MAX_LENGTH:
        raise QueryError(f"the expression is {len(text):,} characters long; the most is "
                         f"{MAX_LENGTH:,}")
    bad = next((i for i, c in enumerate(text) if "\ud800" <= c <= "\udfff"), None)
    if bad is not None:  # no UTF-8 form: the database could not be asked about it
        raise QueryError("the expression holds a lone surrogate (text that is not valid "
                         "Unicode)", text, bad, 1)
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            char = text[pos]
            hint = {"=": "compare with ==", ";": "a search is one expression",
                    "-": "comments are not part of a search expression"}.get(char, "")
            raise QueryError(f"unexpected character {char!r}" + (f": {hint}" if hint else ""),
                             text, pos)
        kind = m.lastgroup or ""
        if kind == "string":
            tokens.append(_string(text, pos))
            pos = tokens[-1].end
            continue
        if kind == "number" and not _is_number(m.group()):
            what = ("write a version as text: version >= '1.2.0'" if re.fullmatch(
                r"\d+(\.\d+)+", m.group()) else "not a number")
            raise QueryError(f"{m.group()!r}: {what}", text, pos, len(m.group()))
        if kind != "space":
            tokens.append(Token(kind if kind != "punct" else m.group(), m.group(), pos, m.end()))
        pos = m.end()
    tokens.append(Token("end", "", len(text), len(text)))
    return tokens


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _string(text: str, start: int) -> Token:
    quote = text[start]
    out: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == quote:
            return Token("string", "".join(out), start, pos + 1)
        if char == "\\":
            escaped = text[pos + 1:pos + 2]
            if escaped not in _ESCAPES:
                raise QueryError(f"unknown escape \\{escaped} in a string (use \\\\, \\', "
                                 '\\", \\n or \\t)', text, pos, 2)
            out.append(_ESCAPES[escaped])
            pos += 2
            continue
        out.append(char)
        pos += 1
    raise QueryError(f"this string has no closing {quote}", text, start)


class _Parser:
    """Recursive descent over the tokens of one expression."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0
        self.depth = 0

    # -- helpers ---------------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def fail(self, message: str, token: Token | None = None,
             suggestions: list[str] | None = None) -> QueryError:
        token = token or self.token
        return QueryError(message, self.text, token.pos, max(1, token.end - token.pos),
                          suggestions or ())

    def keyword(self, word: str) -> bool:
        """Whether the current token is the keyword ``word`` (consumed if so)."""
        if self.token.kind == "name" and self.token.value.lower() == word:
            self.at += 1
            return True
        return False

    def expect(self, kind: str, what: str) -> Token:
        token = self.token
        if token.kind != kind:
            raise self.fail(f"expected {what}, found {_describe(token)}")
        self.at += 1
        return token

    def finish(self) -> None:
        if self.token.kind != "end":
            raise self.fail(f"unexpected {_describe(self.token)}: expected and, or, or the "
                            "end of the expression")

    # -- the grammar ---------------------------------------------------------

    def or_(self) -> Node:
        node = self.and_()
        while self.keyword("or"):
            node = Or(node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.keyword("and"):
            node = And(node, self.not_())
        return node

    def not_(self) -> Node:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail(f"the expression nests deeper than {_MAX_DEPTH} levels")
        try:
            if self.keyword("not"):
                return Not(self.not_())
            if self.token.kind == "(":
                self.at += 1
                node = self.or_()
                self.expect(")", "')'")
                return node
            return self.comparison()
        finally:
            self.depth -= 1

    def comparison(self) -> Node:
        field = self.field()
        token = self.token
        if token.kind == "op":
            self.at += 1
            return Compare(field, token.value, self.literal())
        negated = self.keyword("not")
        if self.keyword("in"):
            return In(field, self.literal_list(), negated)
        expected = "in" if negated else "a comparison (== != < <= > >=) or in"
        raise self.fail(f"expected {expected} after {field.text}, found {_describe(token)}")

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect("(", "'(' to open the list")
        values = [self.literal()]
        while self.token.kind == ",":
            self.at += 1
            if self.token.kind == ")":
                break
            values.append(self.literal())
        self.expect(")", "',' or ')'")
        return tuple(values)

    def literal(self) -> Literal:
        token = self.token
        if token.kind == "string":
            value: str | float | bool = token.value
        elif token.kind == "number":
            value = float(token.value)
        elif token.kind == "name" and token.value.lower() in ("true", "false"):
            value = token.value.lower() == "true"
        else:
            raise self.fail(f"expected a value (a quoted string, a number, true or false), "
                            f"found {_describe(token)}")
        self.at += 1
        return Literal(value, token.pos, token.end)

    def field(self) -> Field:
        first = self.token
        if first.kind != "name" or first.value.lower() in _KEYWORDS:
            raise self.fail(f"expected a field ({', '.join(_ALL)}), found {_describe(first)}")
        self.at += 1
        parts: list[str] = []
        last = first
        while self.token.kind == ".":
            self.at += 1
            last = self.token
            if last.kind not in ("name", "string"):
                raise self.fail(f"expected a key after '.', found {_describe(last)}")
            parts.append(last.value)
            self.at += 1
        kind = first.value
        if kind not in _ALL:
            close = closest(kind, _ALL)
            raise self.fail(f"unknown field {kind!r}", first, close)
        return _field(self, kind, parts, first, last)


def _field(parser: _Parser, kind: str, parts: list[str], first: Token, last: Token) -> Field:
    if kind in FIELDS:
        if parts:
            raise parser.fail(f"{kind} takes no key", last)
        return Field(kind, None, first.pos, first.end)
    if not parts or not all(parts):
        raise parser.fail(f"{kind} needs a key: {kind}.<key>"
                          + (".digest" if kind == "data" else ""), last)
    if kind == "data":
        if len(parts) < 2 or parts[-1] != "digest":
            raise parser.fail("a data field is data.<key>.digest", last)
        parts = parts[:-1]
    return Field(kind, ".".join(parts), first.pos, last.end)


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the expression"
    if token.kind == "string":
        return f"the string {token.value!r}"
    return repr(token.value)


def parse_where(text: str) -> Node:
    """The AST of a ``where`` expression; raises ``QueryError``."""
    if not isinstance(text, str):
        raise QueryError(f"where must be a string expression, not {type(text).__name__}")
    parser = _Parser(text)
    if parser.token.kind == "end":
        raise parser.fail("the expression is empty")
    node = parser.or_()
    parser.finish()
    return node


def parse_order(text: str) -> tuple[OrderKey, ...]:
    """The keys of an ``order_by`` text (``"metrics.auc desc, version"``); raises
    ``QueryError``."""
    if not isinstance(text, str):
        raise QueryError(f"order_by must be a string, not {type(text).__name__}")
    parser = _Parser(text)
    if parser.token.kind == "end":
        raise parser.fail("the order is empty")
    keys: list[OrderKey] = []
    while True:
        field = parser.field()
        if field.kind == "alias":
            raise parser.fail("versions cannot be ordered by alias (a version has several "
                              "or none)", Token("name", "alias", field.pos, field.end))
        descending = parser.keyword("desc")
        if not descending:
            parser.keyword("asc")
        keys.append(OrderKey(field, descending))
        if parser.token.kind != ",":
            break
        parser.at += 1
    if parser.token.kind != "end":
        raise parser.fail(f"unexpected {_describe(parser.token)}: expected asc, desc, ',' or "
                          "the end of the order")
    return tuple(keys)
