#!/usr/bin/env python3
"""Generates C++ Kafka message types from proto/kafka/*.schema (format: proto/kafka/README.md).

Usage: kafka_codegen.py --out DIR SCHEMA...
Writes DIR/<schema stem>.{h,cc} per schema, plus api.{h,cc}, detail.h and testing.h.
Files are only rewritten when their content changes, so unchanged outputs keep their
timestamps and dependent objects are not rebuilt. Standard library only.
"""

import argparse
import os
import re
import shlex
import sys

PRIMS = {
    # name: (C++ type, fixed wire size or None, writer/reader suffix)
    "int8": ("int8_t", 1, "int8"),
    "int16": ("int16_t", 2, "int16"),
    "int32": ("int32_t", 4, "int32"),
    "int64": ("int64_t", 8, "int64"),
    "uint16": ("uint16_t", 2, "uint16"),
    "uint32": ("uint32_t", 4, "uint32"),
    "float64": ("double", 8, "float64"),
    "bool": ("bool", 1, "bool"),
    "uuid": ("wire::uuid", 16, "uuid"),
    "string": (None, None, None),
    "bytes": (None, None, None),
    "records": (None, None, None),
}
INT_LIMITS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
}
CPP_KEYWORDS = set(
    "alignas alignof and and_eq asm auto bitand bitor bool break case catch char class compl "
    "concept const consteval constexpr constinit const_cast continue co_await co_return co_yield "
    "decltype default delete do double dynamic_cast else enum explicit export extern false float "
    "for friend goto if inline int long mutable namespace new noexcept not not_eq nullptr operator "
    "or or_eq private protected public register reinterpret_cast requires return short signed "
    "sizeof static static_assert static_cast struct switch template this thread_local throw true "
    "try typedef typeid typename union unsigned using virtual void volatile wchar_t while xor "
    "xor_eq".split())
RESERVED_MEMBERS = {"encode", "decode", "unknown_tagged_fields"}
MESSAGE_CONSTANTS = {"api_key", "min_version", "max_version", "first_flexible_version"}
IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


class SchemaError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Parsing


class Range:
    """A version range: lo..hi inclusive, hi None = open-ended; `none` is Range(None)."""

    def __init__(self, lo, hi=None):
        self.lo, self.hi = lo, hi

    @staticmethod
    def parse(text, where):
        if text == "none":
            return Range(None)
        m = re.fullmatch(r"(\d+)(\+|-(\d+))?", text)
        if not m:
            raise SchemaError(f"{where}: bad version range '{text}'")
        lo = int(m.group(1))
        if m.group(2) == "+":
            return Range(lo)
        if m.group(3) is not None:
            return Range(lo, int(m.group(3)))
        return Range(lo, lo)

    def empty(self):
        return self.lo is None

    def contains(self, v):
        return self.lo is not None and v >= self.lo and (self.hi is None or v <= self.hi)

    def intersect(self, other):
        if self.empty() or other.empty():
            return Range(None)
        lo = max(self.lo, other.lo)
        his = [h for h in (self.hi, other.hi) if h is not None]
        hi = min(his) if his else None
        return Range(None) if hi is not None and hi < lo else Range(lo, hi)


class Field:
    def __init__(self, where):
        self.where = where
        self.name = self.type = None
        self.is_array = False
        self.elem = None  # primitive name or struct name
        self.struct = None  # Struct for struct-typed fields, after resolution
        self.versions = self.nullable = self.tagged = self.flexible = None
        self.tag = None
        self.default = None
        self.children = []


class Struct:
    def __init__(self, name, where):
        self.name, self.where = name, where
        self.fields = []
        self.parent = None  # enclosing Struct, None for a message
        self.message = None
        self.inline = []  # nested inline structs, in field order

    def qual(self):
        return self.name if self.parent is None else self.parent.qual() + "::" + self.name


class Message(Struct):
    def __init__(self, name, where):
        super().__init__(name, where)
        self.api = None
        self.versions = None
        self.flex = Range(None)
        self.commons = []  # common structs nested in this message (dependency order)


def tokenize(line, where):
    try:
        lex = shlex.shlex(line, posix=True)
        lex.whitespace_split = True
        lex.commenters = "#"
        return list(lex)
    except ValueError as e:
        raise SchemaError(f"{where}: {e}")


def parse_attrs(tokens, where, allowed):
    out = {}
    for t in tokens:
        if "=" not in t:
            raise SchemaError(f"{where}: expected key=value, got '{t}'")
        k, v = t.split("=", 1)
        if k not in allowed or k in out:
            raise SchemaError(f"{where}: unexpected or repeated attribute '{k}'")
        out[k] = v
    return out


def parse_field(tokens, where):
    if len(tokens) < 3 or not tokens[2].startswith("v"):
        raise SchemaError(f"{where}: field needs '<name> <type> v<versions>'")
    f = Field(where)
    f.name = tokens[0]
    if not IDENT.match(f.name) or f.name in CPP_KEYWORDS or f.name in RESERVED_MEMBERS:
        raise SchemaError(f"{where}: field name '{f.name}' is not a usable C++ identifier")
    t = tokens[1]
    f.is_array = t.startswith("[]")
    f.elem = t[2:] if f.is_array else t
    if not IDENT.match(f.elem):
        raise SchemaError(f"{where}: bad type '{t}'")
    f.versions = Range.parse(tokens[2][1:], where)
    attrs = parse_attrs(tokens[3:], where, {"nullable", "tag", "tagged", "default", "flexible"})
    f.nullable = Range.parse(attrs["nullable"], where) if "nullable" in attrs else Range(None)
    f.flexible = Range.parse(attrs["flexible"], where) if "flexible" in attrs else None
    if ("tag" in attrs) != ("tagged" in attrs):
        raise SchemaError(f"{where}: 'tag' and 'tagged' go together")
    if "tag" in attrs:
        f.tag = int(attrs["tag"])
        f.tagged = Range.parse(attrs["tagged"], where)
    else:
        f.tagged = Range(None)
    f.default = attrs.get("default")
    return f


def parse_file(path):
    messages, commons = [], {}
    stack = []  # (indent, container) where container is a Struct or a Field (for children)
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    for n, raw in enumerate(lines, 1):
        where = f"{path}:{n}"
        if "\t" in raw:
            raise SchemaError(f"{where}: tabs are not allowed")
        tokens = tokenize(raw, where)
        if not tokens:
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        if indent % 2:
            raise SchemaError(f"{where}: indentation must be a multiple of two spaces")
        level = indent // 2
        if level == 0:
            kind = tokens[0]
            if kind not in ("message", "struct") or len(tokens) < 2:
                raise SchemaError(f"{where}: expected 'message <name> ...' or 'struct <name>'")
            name = tokens[1]
            if not IDENT.match(name):
                raise SchemaError(f"{where}: bad name '{name}'")
            if kind == "message":
                m = Message(name, where)
                a = parse_attrs(tokens[2:], where, {"api", "versions", "flexible"})
                if "versions" not in a or "flexible" not in a:
                    raise SchemaError(f"{where}: message needs versions= and flexible=")
                m.api = int(a["api"]) if "api" in a else None
                m.versions = Range.parse(a["versions"], where)
                if m.versions.empty() or m.versions.hi is None:
                    raise SchemaError(f"{where}: message versions must be a closed range")
                m.flex = Range.parse(a["flexible"], where)
                messages.append(m)
                stack = [(0, m)]
            else:
                parse_attrs(tokens[2:], where, {"versions"})  # informational only
                if name in commons:
                    raise SchemaError(f"{where}: struct '{name}' declared twice")
                s = Struct(name, where)
                commons[name] = s
                stack = [(0, s)]
            continue
        if not stack:
            raise SchemaError(f"{where}: field outside a message or struct")
        while stack and stack[-1][0] >= level:
            stack.pop()
        if not stack or stack[-1][0] != level - 1:
            raise SchemaError(f"{where}: unexpected indentation")
        parent = stack[-1][1]
        f = parse_field(tokens, where)
        (parent.children if isinstance(parent, Field) else parent.fields).append(f)
        stack.append((level, f))
    return messages, commons


# ---------------------------------------------------------------------------------------------
# Resolution: turn field children into inline structs and bind struct references.


def build_struct(s, fields, commons, msg, used_commons):
    s.message = msg
    s.fields = fields
    members = {f.name for f in fields}
    for f in fields:
        if f.elem in PRIMS:
            if f.children:
                raise SchemaError(f"{f.where}: primitive field cannot have nested fields")
            if f.is_array and f.elem == "records":
                raise SchemaError(f"{f.where}: arrays of records are not supported")
            continue
        if f.children:
            if f.elem in members:
                raise SchemaError(f"{f.where}: struct type '{f.elem}' collides with a member name")
            if any(x.name == f.elem for x in s.inline) or f.elem == s.name:
                raise SchemaError(f"{f.where}: struct '{f.elem}' defined twice in one scope")
            if any(c.name == f.elem for c in f.children):
                raise SchemaError(f"{f.where}: struct '{f.elem}' has a member of its own name")
            sub = Struct(f.elem, f.where)
            sub.parent = s
            build_struct(sub, f.children, commons, msg, used_commons)
            s.inline.append(sub)
            f.struct = sub
        elif f.elem in commons:
            f.struct = commons[f.elem]
            used_commons.append(f.elem)
        else:
            raise SchemaError(f"{f.where}: unknown type '{f.elem}'")


def resolve(messages, commons, path):
    names = set()
    for m in messages:
        if m.name in names:
            raise SchemaError(f"{m.where}: message '{m.name}' declared twice")
        names.add(m.name)
    for m in messages:
        for f in m.fields:
            if f.name in MESSAGE_CONSTANTS:
                raise SchemaError(f"{f.where}: '{f.name}' collides with a message constant")
        used = []
        build_struct(m, m.fields, commons, m, used)
        # Common structs become nested types of every message using them; emit dependencies
        # first. A common struct is resolved per message since its qualified name differs.
        order, seen = [], set()

        def visit(name, chain):
            if name in seen:
                return
            if name in chain:
                raise SchemaError(f"{path}: recursive struct '{name}'")
            c = commons[name]
            if any(x.name == name for x in c.fields):
                raise SchemaError(f"{c.where}: struct '{name}' has a member of its own name")
            inner = []
            tmp = Struct(name, c.where)
            tmp.parent = m
            build_struct(tmp, c.fields, commons, m, inner)
            for d in inner:
                visit(d, chain | {name})
            seen.add(name)
            order.append(tmp)

        for u in used:
            visit(u, set())
        member_names = {f.name for f in m.fields}
        for c in order:
            if c.name in member_names:
                raise SchemaError(f"{c.where}: common struct '{c.name}' collides with a member")
        m.commons = order
        inline_names = set()

        def names(s):
            for sub in s.inline:
                inline_names.add(sub.name)
                names(sub)

        names(m)
        for c in order:
            if c.name in inline_names:
                raise SchemaError(f"{c.where}: '{c.name}' is both inline and common in {m.name}")
        by_name = {c.name: c for c in order}
        rebind(m, by_name)
        for c in order:
            rebind(c, by_name)


def rebind(s, by_name):
    for f in s.fields:
        if f.struct is not None and f.struct.parent is None and f.elem in by_name:
            f.struct = by_name[f.elem]
    for sub in s.inline:
        rebind(sub, by_name)


# ---------------------------------------------------------------------------------------------
# C++ helpers


def nullable_any(f):
    return f.elem == "records" or not f.versions.intersect(f.nullable).empty()


def cpp_type(f):
    if f.elem == "records":
        return "wire::records"  # std::optional<bytes> that may instead hold a file range
    if f.struct is not None:
        base = f.struct.qual()
    elif f.elem == "string":
        base = "std::string"
    elif f.elem in ("bytes", "records"):
        base = "wire::bytes"
    else:
        base = PRIMS[f.elem][0]
    if f.is_array:
        base = f"std::vector<{base}>"
    return f"std::optional<{base}>" if nullable_any(f) else base


def cond(r, m):
    """C++ condition for `version in r`, simplified against the message's versions."""
    r = r.intersect(m.versions)
    if r.empty():
        return "false"
    hi = m.versions.hi if r.hi is None else r.hi
    need_lo, need_hi = r.lo > m.versions.lo, hi < m.versions.hi
    if need_lo and need_hi and r.lo == hi:
        return f"version == {r.lo}"
    parts = ([f"version >= {r.lo}"] if need_lo else []) + ([f"version <= {hi}"] if need_hi else [])
    return " && ".join(parts) if parts else "true"


def int_literal(f, text):
    lo, hi = INT_LIMITS[f.elem]
    try:
        v = int(text, 0)
    except ValueError:
        raise SchemaError(f"{f.where}: bad integer default '{text}'")
    if not lo <= v <= hi:
        raise SchemaError(f"{f.where}: default {text} out of range for {f.elem}")
    ctype = PRIMS[f.elem][0]
    if v == lo and lo < 0:
        return f"std::numeric_limits<{ctype}>::min()"
    return text


def cpp_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def default_expr(f):
    """An expression of the member's type holding the schema default."""
    t = cpp_type(f)
    d = f.default
    if d == "null":
        if not nullable_any(f):
            raise SchemaError(f"{f.where}: default=null on a field that is never nullable")
        return f"{t}()"
    if f.is_array or f.struct is not None:
        if d is not None:
            raise SchemaError(f"{f.where}: only default=null is allowed for arrays and structs")
        inner = t[len("std::optional<"):-1] if nullable_any(f) else t
        if f.elem == "records":
            return f"{t}()"
        return f"{t}({inner}())" if nullable_any(f) else f"{t}()"
    e = f.elem
    if e in INT_LIMITS:
        return f"{t}({int_literal(f, d or '0')})"
    if e == "bool":
        if d not in (None, "true", "false"):
            raise SchemaError(f"{f.where}: bad bool default '{d}'")
        return f"{t}({d or 'false'})"
    if e == "float64":
        try:
            float(d or "0")
        except ValueError:
            raise SchemaError(f"{f.where}: bad float default '{d}'")
        return f"{t}({d or '0.0'})"
    if e == "uuid":
        if d not in (None, "0", "AAAAAAAAAAAAAAAAAAAAAA"):
            raise SchemaError(f"{f.where}: only the zero uuid is supported as a default")
        return f"{t}()"
    if e == "string":
        return f"{t}(std::string({cpp_string(d or '')}))" if nullable_any(f) else \
            f"{t}({cpp_string(d or '')})"
    if e in ("bytes", "records"):
        if d not in (None, ""):
            raise SchemaError(f"{f.where}: bytes defaults other than null/empty are unsupported")
        return f"{t}(wire::bytes())" if nullable_any(f) and e == "bytes" else f"{t}()"
    raise SchemaError(f"{f.where}: cannot express default for {e}")


def member_init(f):
    """Default member initializer text (after the member name), or '' for value-init."""
    d = f.default
    if f.elem == "records":
        return ""
    if f.is_array or f.struct is not None:
        if nullable_any(f) and d != "null":
            inner = cpp_type(f)[len("std::optional<"):-1]
            return f" = {inner}()"
        return ""
    e = f.elem
    if d is None or d == "null":
        if e in ("string", "bytes") and nullable_any(f) and d is None:
            return " = std::string()" if e == "string" else " = wire::bytes()"
        if e in INT_LIMITS or e in ("bool", "float64"):
            return " = 0" if e != "bool" else " = false"
        return ""
    if e in INT_LIMITS:
        return f" = {int_literal(f, d)}"
    if e in ("bool", "float64"):
        return f" = {d}"
    if e == "string":
        return f" = std::string({cpp_string(d)})" if nullable_any(f) else f" = {cpp_string(d)}"
    return ""


class Out:
    def __init__(self):
        self.lines = []
        self.ind = 0

    def __call__(self, text=""):
        self.lines.append(("  " * self.ind + text) if text else "")

    def block(self, head):
        self(head + " {")
        self.ind += 1

    def end(self, tail="}"):
        self.ind -= 1
        self(tail)

    def text(self):
        return "\n".join(self.lines) + "\n"


def all_structs(m):
    """Every struct of a message, dependencies before users, message last."""
    out = []

    def walk(s):
        for sub in s.inline:
            walk(sub)
        out.append(s)

    for c in m.commons:
        walk(c)
    for sub in m.inline:
        walk(sub)
    out.append(m)
    return out


def known_tags(s):
    return sorted({f.tag for f in s.fields if f.tag is not None})


# ---------------------------------------------------------------------------------------------
# Header


def emit_struct_decl(o, s, m):
    o.block(f"struct {s.name}")
    if s is m:
        if m.api is not None:
            o(f"static constexpr int16_t api_key = {m.api};")
        o(f"static constexpr int16_t min_version = {m.versions.lo};")
        o(f"static constexpr int16_t max_version = {m.versions.hi};")
        fl = -1 if m.flex.empty() else m.flex.lo
        o(f"static constexpr int16_t first_flexible_version = {fl};  // -1: never flexible")
        o()
        for c in m.commons:
            emit_struct_decl(o, c, m)
            o()
    for sub in s.inline:
        emit_struct_decl(o, sub, m)
        o()
    for f in s.fields:
        o(f"{cpp_type(f)} {f.name}{member_init(f)};")
    o("wire::tagged_fields unknown_tagged_fields;")
    o()
    o("void encode(wire::writer& w, int16_t version) const;")
    if s is m:
        o("// Resets *this first; fails the reader with unsupported_version outside"
          " [min_version, max_version].")
    o("void decode(wire::reader& r, int16_t version);")
    o(f"bool operator==(const {s.name}&) const = default;")
    emit_for_each_error_code(o, s)
    o.end("};")


ERROR_CODE_FIELDS = ("error_code", "partition_error_code", "topic_config_error_code")


def has_error_codes(s, seen=None):
    seen = seen or set()
    if id(s) in seen:
        return False
    seen.add(id(s))
    for f in s.fields:
        if f.name in ERROR_CODE_FIELDS and f.elem == "int16" and not f.is_array:
            return True
        if f.struct is not None and has_error_codes(f.struct, seen):
            return True
    return False


def emit_for_each_error_code(o, s):
    """for_each_error_code(f): f(code) for every error code field, nested ones too (metrics)."""
    o("// Calls f(int16_t) for every error code in this struct and the structs it holds.")
    o("template <class F>")
    o.block("void for_each_error_code(F&& f) const")
    if not has_error_codes(s):
        o("(void)f;")
    for f in s.fields:
        if f.name in ERROR_CODE_FIELDS and f.elem == "int16" and not f.is_array:
            o(f"f({f.name});")
        elif f.struct is not None and has_error_codes(f.struct):
            opt = nullable_any(f)
            x = f"*{f.name}" if opt else f.name
            guard = f"if ({f.name}) " if opt else ""
            if f.is_array:
                o(f"{guard}for (const auto& e : {x}) e.for_each_error_code(f);")
            else:
                o(f"{guard}({x}).for_each_error_code(f);")
    o.end()


def header_for(stem, messages, extra_doc):
    o = Out()
    o("#pragma once")
    o(f"// Generated by tools/codegen/kafka_codegen.py from proto/kafka/{stem}.schema. Do not edit.")
    if extra_doc:
        o(f"// {extra_doc}")
    o("//")
    o("// Contract: encode(w, v) writes the body of version v (v must be within")
    o("// [min_version, max_version]); decode(r, v) reads it, leaving fields absent in v at their")
    o("// defaults. Decode errors are sticky in the reader: check r.ok() afterwards.")
    o()
    o("#include <cstdint>")
    o("#include <limits>")
    o("#include <optional>")
    o("#include <string>")
    o("#include <vector>")
    o()
    o('#include "src/protocol/wire.h"')
    o()
    o("namespace sluice::kafka {")
    o()
    for m in messages:
        emit_struct_decl(o, m, m)
        o()
    o("}  // namespace sluice::kafka")
    return o.text()


# ---------------------------------------------------------------------------------------------
# Encode / decode


def compact_expr(f, m):
    if f.flexible is None:
        return "flex"
    c = cond(f.flexible, m)
    return "false" if c == "false" else f"(flex && {c})"


def encode_value(o, f, m, x, compact, tagged):
    """Write member expression `x` (of cpp_type(f)) for the current version."""
    ncond = cond(f.nullable, m)
    opt = nullable_any(f)
    if f.is_array:
        if opt:
            o(f"detail::put_array_length(w, {x} ? static_cast<int64_t>({x}->size()) : -1, "
              f"{ncond}, {compact});")
            o.block(f"if ({x})")
            elems = f"*{x}"
        else:
            o(f"w.write_array_length(static_cast<int32_t>({x}.size()), {compact});")
            elems = x
        o.block(f"for (const auto& e : {elems})")
        encode_elem(o, f, m, "e", compact)
        o.end()
        if opt:
            o.end()
        return
    if f.struct is not None:
        if opt:
            o(f"detail::put_struct(w, {x}, {ncond}, version);")
        else:
            o(f"{x}.encode(w, version);")
        return
    encode_scalar(o, f.elem, x, compact, opt, ncond)


def encode_elem(o, f, m, x, compact):
    if f.struct is not None:
        o(f"{x}.encode(w, version);")
    else:
        encode_scalar(o, f.elem, x, compact, False, "false")


def encode_scalar(o, elem, x, compact, opt, ncond):
    if elem == "string":
        if opt:
            o(f"detail::put_string(w, {x}, {ncond}, {compact});")
        else:
            o(f"w.write_string({x}, {compact});")
    elif elem == "records":
        o(f"detail::put_records(w, {x}, {ncond}, {compact});")
    elif elem == "bytes":
        if opt:
            o(f"detail::put_bytes(w, {x}, {ncond}, {compact});")
        else:
            o(f"w.write_bytes({x}, {compact});")
    else:
        o(f"w.write_{PRIMS[elem][2]}({x});")


def min_size(f, compact):
    if f.struct is not None:
        return "1"
    fixed = PRIMS[f.elem][1]
    if fixed:
        return str(fixed)
    if f.elem == "string":
        return f"({compact} ? 1 : 2)"
    return f"({compact} ? 1 : 4)"


def decode_value(o, f, m, x, compact, rd):
    ncond = cond(f.nullable, m) if not f.nullable.empty() else "false"
    opt = nullable_any(f)
    if f.is_array:
        o("{")
        o.ind += 1
        o(f"int32_t n = {rd}.read_array_length({compact}, {ncond}, {min_size(f, compact)});")
        if opt:
            o.block("if (n < 0)")
            o(f"{x}.reset();")
            o.end("} else {")
            o.ind += 1
            o(f"auto& v = {x}.emplace();")
        else:
            o(f"auto& v = {x};")
            o("v.clear();")
        if f.struct is None:
            # Fixed-size or length-prefixed elements: n is bounded by the input already.
            o("v.reserve(static_cast<size_t>(n));")
        o.block(f"for (int32_t i = 0; i < n && {rd}.ok(); ++i)")
        if f.struct is not None:
            o(f"v.emplace_back().decode({rd}, version);")
        else:
            o(f"v.push_back({read_scalar(f.elem, compact, False, 'false', rd)});")
        o.end()
        if opt:
            o.end()
        o.end()
        return
    if f.struct is not None:
        if opt:
            o(f"detail::get_struct({rd}, {x}, {ncond}, version);")
        else:
            o(f"{x}.decode({rd}, version);")
        return
    o(f"{x} = {read_scalar(f.elem, compact, opt, ncond, rd)};")


def read_scalar(elem, compact, opt, ncond, rd):
    if elem == "string":
        if opt:
            return f"detail::get_string({rd}, {ncond}, {compact})"
        return f"{rd}.read_string({compact})"
    if elem == "records":
        return f"{rd}.read_records({compact}, {ncond})"
    if elem in ("bytes", "records"):
        if opt:
            return f"detail::get_bytes({rd}, {ncond}, {compact})"
        return f"{rd}.read_bytes({compact})"
    return f"{rd}.read_{PRIMS[elem][2]}()"


def emit_methods(o, s, m):
    q = s.qual()
    flex_cond = cond(m.flex, m) if not m.flex.empty() else "false"
    regular = s.fields
    tagged = sorted([f for f in s.fields if f.tag is not None], key=lambda f: f.tag)

    # encode
    o.block(f"void {q}::encode(wire::writer& w, [[maybe_unused]] int16_t version) const")
    o(f"[[maybe_unused]] const bool flex = {flex_cond};")
    for f in regular:
        # A tagged field is written in the regular section only in versions where it is not tagged.
        pc = subtract_cond(f, m) if f.tag is not None else cond(f.versions, m)
        if pc == "false":
            continue
        if pc != "true":
            o.block(f"if ({pc})")
        encode_value(o, f, m, f.name, compact_expr(f, m), None)
        if pc != "true":
            o.end()
    if not m.flex.empty():
        o.block("if (flex)")
        if tagged:
            o("wire::tagged_fields known;")
            for f in tagged:
                tc = cond(f.versions.intersect(f.tagged), m)
                if tc == "false":
                    continue
                pred = f"!({f.name} == {default_expr(f)})"
                o.block(f"if ({tc if tc != 'true' else ''}{' && ' if tc != 'true' else ''}{pred})")
                o("wire::bytes buf;")
                o("{")
                o.ind += 1
                o("wire::writer tw(buf);")
                o("[[maybe_unused]] auto& w = tw;")
                encode_value(o, f, m, f.name, "true", True)
                o.end()
                o(f"known.push_back({{{f.tag}, std::move(buf)}});")
                o.end()
            o("detail::put_tagged_fields(w, known, unknown_tagged_fields);")
        else:
            o("w.write_tagged_fields(unknown_tagged_fields);")
        o.end()
    o.end()
    o()

    # decode
    o.block(f"void {q}::decode(wire::reader& r, [[maybe_unused]] int16_t version)")
    if s is m:
        o("if (version < min_version || version > max_version) {")
        o("  r.fail(errc::unsupported_version);")
        o("  return;")
        o("}")
        o(f"*this = {s.name}();")
    o(f"[[maybe_unused]] const bool flex = {flex_cond};")
    for f in regular:
        present = subtract_cond(f, m) if f.tag is not None else cond(f.versions, m)
        if present == "false":
            continue
        if present != "true":
            o.block(f"if ({present})")
        decode_value(o, f, m, f.name, compact_expr(f, m), "r")
        if present != "true":
            o.end()
    if not m.flex.empty():
        o.block("if (flex)")
        o("unknown_tagged_fields.clear();")
        live = [f for f in tagged if cond(f.versions.intersect(f.tagged), m) != "false"]
        if live:
            o.block("r.read_tagged_fields(unknown_tagged_fields, [&](uint32_t tag, wire::reader& sub)")
            o.block("switch (tag)")
            for f in live:
                tc = cond(f.versions.intersect(f.tagged), m)
                o(f"case {f.tag}:")
                o.ind += 1
                if tc != "true":
                    o(f"if (!({tc})) return false;")
                decode_value(o, f, m, f.name, "true", "sub")
                o("return true;")
                o.ind -= 1
            o("default:")
            o("  return false;")
            o.end()
            o.end("});")
        else:
            o("r.read_tagged_fields(unknown_tagged_fields);")
        o.end()
    o.end()
    o()


def subtract_cond(f, m):
    """Condition for a tagged field being in the regular section (present but not tagged)."""
    present = f.versions.intersect(m.versions)
    if present.empty():
        return "false"
    tagged = f.versions.intersect(f.tagged).intersect(m.versions)
    if tagged.empty():
        return cond(present, m)
    # Kafka only tags fields in all their (flexible) versions; anything else is unsupported.
    if tagged.lo == present.lo and tagged.hi == present.hi:
        return "false"
    raise SchemaError(f"{f.where}: a field must be tagged in all of its versions")


def source_for(stem, messages):
    o = Out()
    o(f"// Generated by tools/codegen/kafka_codegen.py from proto/kafka/{stem}.schema. Do not edit.")
    o(f'#include "kafka/{stem}.h"')
    o()
    o('#include "kafka/detail.h"')
    o()
    o("namespace sluice::kafka {")
    o()
    for m in messages:
        for s in all_structs(m):
            emit_methods(o, s, m)
    o("}  // namespace sluice::kafka")
    return o.text()


# ---------------------------------------------------------------------------------------------
# Shared helpers, API table, test support

DETAIL_H = r"""#pragma once
// Generated by tools/codegen/kafka_codegen.py. Do not edit.
// Helpers shared by the generated codecs: keeping nullable/optional handling here instead of
// inlining it per field keeps the generated .cc files small and quick to compile.

#include <algorithm>
#include <optional>
#include <string>

#include "src/protocol/wire.h"

namespace sluice::kafka::detail {

// A null value in a version where the field is not nullable is written as an empty value.
inline void put_string(wire::writer& w, const std::optional<std::string>& s, bool nullable,
                       bool compact) {
  if (nullable) {
    w.write_nullable_string(s, compact);
  } else {
    w.write_string(s ? std::string_view(*s) : std::string_view(), compact);
  }
}

inline std::optional<std::string> get_string(wire::reader& r, bool nullable, bool compact) {
  if (nullable) return r.read_nullable_string(compact);
  return r.read_string(compact);
}

inline void put_bytes(wire::writer& w, const std::optional<wire::bytes>& b, bool nullable,
                      bool compact) {
  if (nullable) {
    w.write_nullable_bytes(b, compact);
  } else if (b) {
    w.write_bytes(*b, compact);
  } else {
    w.write_bytes({}, compact);
  }
}

// A records field: nullable where the version allows, and possibly a file range (sendfile).
inline void put_records(wire::writer& w, const wire::records& r, bool nullable, bool compact) {
  if (r.file || nullable) return w.write_records(r, compact);
  w.write_bytes(r.view(), compact);
}

inline std::optional<wire::bytes> get_bytes(wire::reader& r, bool nullable, bool compact) {
  if (nullable) return r.read_nullable_bytes(compact);
  return r.read_bytes(compact);
}

// n = -1 means null; written as an empty array where null is not allowed.
inline void put_array_length(wire::writer& w, int64_t n, bool nullable, bool compact) {
  if (n < 0 && !nullable) n = 0;
  w.write_array_length(static_cast<int32_t>(n), compact);
}

// Nullable structs carry an int8 presence marker: -1 null, 1 present.
template <class T>
void put_struct(wire::writer& w, const std::optional<T>& s, bool nullable, int16_t version) {
  if (nullable) w.write_int8(s ? 1 : -1);
  if (s) {
    s->encode(w, version);
  } else if (!nullable) {
    T().encode(w, version);
  }
}

template <class T>
void get_struct(wire::reader& r, std::optional<T>& s, bool nullable, int16_t version) {
  if (nullable && r.read_int8() < 0) {
    s.reset();
    return;
  }
  // Not s.emplace(): clang caches is_constructible of a nested struct as false while its
  // enclosing message is incomplete, which rejects emplace() with no arguments.
  s = T{};
  s->decode(r, version);
}

// Writes known (ascending by tag) and unknown tagged fields merged in ascending tag order.
inline void put_tagged_fields(wire::writer& w, const wire::tagged_fields& known,
                              const wire::tagged_fields& unknown) {
  if (unknown.empty()) return w.write_tagged_fields(known);
  wire::tagged_fields all;
  all.reserve(known.size() + unknown.size());
  all.insert(all.end(), known.begin(), known.end());
  all.insert(all.end(), unknown.begin(), unknown.end());
  std::stable_sort(all.begin(), all.end(),
                   [](const wire::tagged_field& a, const wire::tagged_field& b) {
                     return a.tag < b.tag;
                   });
  w.write_tagged_fields(all);
}

}  // namespace sluice::kafka::detail
"""


def api_files(apis):
    h = r"""#pragma once
// Generated by tools/codegen/kafka_codegen.py. Do not edit.
// Table of the Kafka APIs Sluice has codecs for, and header-version selection.
//
// Contract: find_api returns nullptr for keys without a codec. The *_header_version
// functions return -1 for an unknown key or a version outside the API's range.

#include <cstdint>
#include <span>
#include <string_view>

namespace sluice::kafka {

struct api_info {
  int16_t key;
  std::string_view name;  // Kafka's name, e.g. "ApiVersions"
  int16_t min_version;
  int16_t max_version;
  int16_t first_flexible_version;  // -1 if no version is flexible
};

// Sorted by key.
std::span<const api_info> all_apis();
const api_info* find_api(int16_t key);
// Request header v1 for non-flexible versions, v2 for flexible ones.
int16_t request_header_version(int16_t key, int16_t version);
// Response header v0 / v1 likewise, except ApiVersions which always answers with v0 so that
// clients can parse it before knowing which versions the broker supports.
int16_t response_header_version(int16_t key, int16_t version);

}  // namespace sluice::kafka
"""
    c = Out()
    c("// Generated by tools/codegen/kafka_codegen.py. Do not edit.")
    c('#include "kafka/api.h"')
    c()
    c("#include <algorithm>")
    c()
    c("namespace sluice::kafka {")
    c()
    c("namespace {")
    c("constexpr api_info kApis[] = {")
    for key, name, lo, hi, fl in sorted(apis):
        c(f'    {{{key}, "{name}", {lo}, {hi}, {fl}}},')
    c("};")
    c("}  // namespace")
    c()
    c("std::span<const api_info> all_apis() { return kApis; }")
    c()
    c.block("const api_info* find_api(int16_t key)")
    c("auto it = std::lower_bound(std::begin(kApis), std::end(kApis), key,")
    c("                           [](const api_info& a, int16_t k) { return a.key < k; });")
    c("return it != std::end(kApis) && it->key == key ? &*it : nullptr;")
    c.end()
    c()
    c.block("static const api_info* find_version(int16_t key, int16_t version)")
    c("const api_info* a = find_api(key);")
    c("return a && version >= a->min_version && version <= a->max_version ? a : nullptr;")
    c.end()
    c()
    c.block("int16_t request_header_version(int16_t key, int16_t version)")
    c("const api_info* a = find_version(key, version);")
    c("if (!a) return -1;")
    c("return a->first_flexible_version >= 0 && version >= a->first_flexible_version ? 2 : 1;")
    c.end()
    c()
    c.block("int16_t response_header_version(int16_t key, int16_t version)")
    c("const api_info* a = find_version(key, version);")
    c("if (!a) return -1;")
    c("if (key == 18) return 0;  // ApiVersions")
    c("return a->first_flexible_version >= 0 && version >= a->first_flexible_version ? 1 : 0;")
    c.end()
    c()
    c("}  // namespace sluice::kafka")
    return h, c.text()


def error_files(files):
    """errors.h/.cc: a response carrying only a top-level error code, for requests Sluice
    cannot serve (Kafka's answer where the response has such a field)."""
    h = r"""#pragma once
// Generated by tools/codegen/kafka_codegen.py. Do not edit.
// Responses that carry nothing but a top-level error code.
//
// Contract: encode_error_response(key, version, code, w) encodes the response body of API
// `key` at `version` with its top-level `error_code` set to `code` and every other field at
// its default, and returns true; it writes nothing and returns false when the API is unknown,
// the version is outside the schema, or the response has no top-level error code in that
// version (such responses report errors per item: the caller must build them itself).

#include <cstdint>

#include "src/protocol/wire.h"

namespace sluice::kafka {

bool encode_error_response(int16_t key, int16_t version, int16_t error_code, wire::writer& w);

}  // namespace sluice::kafka
"""
    c = Out()
    c("// Generated by tools/codegen/kafka_codegen.py. Do not edit.")
    c('#include "kafka/errors.h"')
    c()
    for stem, _ in files:
        c(f'#include "kafka/{stem}.h"')
    c()
    c("namespace sluice::kafka {")
    c()
    c.block("bool encode_error_response(int16_t key, int16_t version, int16_t error_code, "
            "wire::writer& w)")
    c("switch (key) {")
    for _, msgs in files:
        for m in msgs:
            if m.api is None or not m.name.endswith("_response"):
                continue
            f = next((f for f in m.fields if f.name == "error_code" and not f.is_array
                      and f.elem == "int16"), None)
            if f is None:
                continue
            r = f.versions.intersect(m.versions)
            hi = m.versions.hi if r.hi is None else r.hi
            c(f"  case {m.api}: {{")
            c(f"    if (version < {r.lo} || version > {hi}) return false;")
            c(f"    {m.name} resp;")
            c("    resp.error_code = error_code;")
            c("    resp.encode(w, version);")
            c("    return true;")
            c("  }")
    c("  default:")
    c("    return false;")
    c("}")
    c.end()
    c()
    c("}  // namespace sluice::kafka")
    return h, c.text()


def rand_value(o, f, m, x, depth):
    """Randomize member expression x for the current version (field is present)."""
    ncond = cond(f.nullable, m) if not f.nullable.empty() else "false"
    opt = nullable_any(f)
    if opt:
        o.block(f"if (({ncond}) && g.chance(4))")
        o(f"{x}.reset();")
        o.end("} else {")
        o.ind += 1
        o(f"{x} = std::decay_t<decltype({x})>::value_type{{}};  // not emplace(): see detail.h")
        o(f"auto& val = *{x};")
        x = "val"
    if f.is_array:
        o(f"{x}.resize(g.count(depth));")
        o.block(f"for (auto& e : {x})")
        rand_elem(o, f, "e")
        o.end()
    else:
        rand_elem(o, f, x)
    if opt:
        o.end()


def rand_elem(o, f, x):
    if f.struct is not None:
        o(f"randomize({x}, g, version, depth + 1);")
    elif f.elem == "string":
        o(f"{x} = g.str();")
    elif f.elem in ("bytes", "records"):
        o(f"{x} = g.bin();")
    elif f.elem == "bool":
        o(f"{x} = g.chance(2);")
    elif f.elem == "uuid":
        o(f"{x} = g.id();")
    elif f.elem == "float64":
        o(f"{x} = g.real();")
    else:
        o(f"{x} = g.integer<{PRIMS[f.elem][0]}>();")


def testing_h(files):
    o = Out()
    o("#pragma once")
    o("// Generated by tools/codegen/kafka_codegen.py. Do not edit. Test support only.")
    o("//")
    o("// randomize(msg, rng, version) fills every field present in `version` with random values,")
    o("// respecting per-version nullability; in flexible versions it also adds unknown tagged")
    o("// fields whose tags interleave with the known ones. for_each_message(f) calls")
    o("// f(std::type_identity<T>{}) for every generated message type, for_each_request(f) for")
    o("// every request type.")
    o()
    o("#include <random>")
    o("#include <type_traits>")
    o()
    for stem, _ in files:
        o(f'#include "kafka/{stem}.h"')
    o()
    o("namespace sluice::kafka::testing {")
    o()
    o(r"""class gen {
 public:
  explicit gen(std::mt19937_64& rng) : _rng(rng) {}
  bool chance(int one_in) { return std::uniform_int_distribution<int>(0, one_in - 1)(_rng) == 0; }
  size_t count(int depth) { return depth > 2 ? 0 : std::uniform_int_distribution<size_t>(0, 3)(_rng); }
  template <class T>
  T integer() {
    // Mix small values with extremes so varint-free fixed encodings see every byte.
    switch (std::uniform_int_distribution<int>(0, 3)(_rng)) {
      case 0: return std::numeric_limits<T>::min();
      case 1: return std::numeric_limits<T>::max();
      case 2: return static_cast<T>(std::uniform_int_distribution<int>(-1, 10)(_rng));
      default: return static_cast<T>(_rng());
    }
  }
  double real() { return std::uniform_real_distribution<double>(-1e9, 1e9)(_rng); }
  std::string str() {
    std::string s(std::uniform_int_distribution<size_t>(0, 8)(_rng), 'a');
    for (auto& c : s) c = static_cast<char>('a' + _rng() % 26);
    return s;
  }
  wire::bytes bin() {
    wire::bytes b(std::uniform_int_distribution<size_t>(0, 12)(_rng));
    for (auto& c : b) c = static_cast<uint8_t>(_rng());
    return b;
  }
  wire::uuid id() {
    wire::uuid u;
    for (auto& c : u) c = static_cast<uint8_t>(_rng());
    return u;
  }
  // Unknown tagged fields with tags below 8 that are not in `known` (so they interleave).
  wire::tagged_fields unknown_tags(std::initializer_list<uint32_t> known) {
    wire::tagged_fields out;
    if (!chance(3)) return out;
    for (uint32_t t = 0; t < 8; ++t) {
      if (std::find(known.begin(), known.end(), t) != known.end() || !chance(3)) continue;
      out.push_back({t, bin()});
    }
    return out;
  }

 private:
  std::mt19937_64& _rng;
};
""")
    structs = []
    for _, msgs in files:
        for m in msgs:
            for s in all_structs(m):
                structs.append((s, m))
    for s, m in structs:
        o(f"inline void randomize({s.qual()}& x, gen& g, int16_t version, int depth);")
    o()
    for s, m in structs:
        o.block(f"inline void randomize({s.qual()}& x, gen& g, [[maybe_unused]] int16_t version, "
                f"[[maybe_unused]] int depth)")
        for f in s.fields:
            pc = cond(f.versions, m)
            if pc == "false":
                continue
            if pc != "true":
                o.block(f"if ({pc})")
            rand_value(o, f, m, "x." + f.name, 0)
            if pc != "true":
                o.end()
        if not m.flex.empty():
            fc = cond(m.flex, m)
            tags = ", ".join(str(t) for t in known_tags(s))
            o(f"if ({fc}) x.unknown_tagged_fields = g.unknown_tags({{{tags}}});")
        o.end()
        o()
    o("template <class T>")
    o("void randomize(T& x, std::mt19937_64& rng, int16_t version) {")
    o("  gen g(rng);")
    o("  randomize(x, g, version, 0);")
    o("}")
    o()
    o("template <class F>")
    o("void for_each_message(F&& f) {")
    for _, msgs in files:
        for m in msgs:
            o(f"  f(std::type_identity<{m.name}>{{}});")
    o("}")
    o()
    o("// Only the *_request types, e.g. to decode captured request frames by api key.")
    o("template <class F>")
    o("void for_each_request(F&& f) {")
    for _, msgs in files:
        for m in msgs:
            if m.api is not None and m.name.endswith("_request"):
                o(f"  f(std::type_identity<{m.name}>{{}});")
    o("}")
    o()
    o("}  // namespace sluice::kafka::testing")
    return o.text().replace("#include <random>", "#include <algorithm>\n#include <initializer_list>\n#include <limits>\n#include <random>")


# ---------------------------------------------------------------------------------------------


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def camel(name):
    return "".join(p.capitalize() for p in name.split("_"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("schemas", nargs="+")
    args = ap.parse_args()
    out = os.path.join(args.out, "kafka")
    os.makedirs(out, exist_ok=True)
    files, apis, seen_api = [], [], {}
    try:
        for path in sorted(args.schemas):
            stem = os.path.splitext(os.path.basename(path))[0]
            msgs, commons = parse_file(path)
            resolve(msgs, commons, path)
            files.append((stem, msgs))
            for m in msgs:
                if m.api is None:
                    continue
                if m.name.endswith("_request"):
                    if m.api in seen_api:
                        raise SchemaError(f"{m.where}: api {m.api} declared twice")
                    seen_api[m.api] = m
                    fl = -1 if m.flex.empty() else m.flex.lo
                    apis.append((m.api, camel(m.name[: -len("_request")]), m.versions.lo,
                                 m.versions.hi, fl))
            # A response must mirror its request's versions and flexibility.
            for m in msgs:
                if m.api is not None and m.name.endswith("_response"):
                    req = seen_api.get(m.api)
                    if req is None or (req.versions.lo, req.versions.hi, req.flex.lo) != (
                            m.versions.lo, m.versions.hi, m.flex.lo):
                        raise SchemaError(f"{m.where}: response does not match its request")
    except SchemaError as e:
        print(f"kafka_codegen: error: {e}", file=sys.stderr)
        return 1
    for stem, msgs in files:
        write_if_changed(os.path.join(out, stem + ".h"), header_for(stem, msgs, None))
        write_if_changed(os.path.join(out, stem + ".cc"), source_for(stem, msgs))
    write_if_changed(os.path.join(out, "detail.h"), DETAIL_H)
    h, c = api_files(apis)
    write_if_changed(os.path.join(out, "api.h"), h)
    write_if_changed(os.path.join(out, "api.cc"), c)
    write_if_changed(os.path.join(out, "testing.h"), testing_h(files))
    h, c = error_files(files)
    write_if_changed(os.path.join(out, "errors.h"), h)
    write_if_changed(os.path.join(out, "errors.cc"), c)
    return 0


if __name__ == "__main__":
    sys.exit(main())
