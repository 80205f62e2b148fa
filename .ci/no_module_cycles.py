#!/usr/bin/env python3
"""Fails when files (modules) of one crate import each other, directly or
round a loop (DESIGN §14: data flows one way; a type two modules share moves
to a module both use).

A module is a file. An import is a path through `crate::`, `super::` or
`self::` (in a `use` or inline), resolved to the deepest module file it
names; a name a `mod.rs` re-exports (`pub use child::Name`) resolves to the
child that defines it. A module and its own ancestors are not counted as
importing each other (a parent declaring and re-exporting its children, a
child using its parent's shared types, is the normal shape). Unit tests
(`#[cfg(test)] mod tests { ... }` at the end of a file, `*tests.rs` files)
are not counted."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
INLINE = re.compile(rf"\b(crate|super|self)((?:::{IDENT})+)")


def crate_roots():
    for lib in sorted(ROOT.glob("**/src/lib.rs")):
        if "target" not in lib.parts and ".git" not in lib.parts:
            yield lib.parent


def modules(src):
    """Module path (tuple) -> file, for every file of the crate at `src`."""
    found = {}
    for path in sorted(src.rglob("*.rs")):
        rel = path.relative_to(src)
        if path.name.endswith("tests.rs") or "bin" in rel.parts[:1]:
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        found[tuple(parts)] = path
    return found


def code_of(path):
    text = path.read_text()
    cut = re.search(r"#\[cfg\(test\)\]\s*mod\s+tests\s*\{", text)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"//[^\n]*", "", text)
    return text


def expand(tree):
    """`a::{b::C, d}` -> ['a::b::C', 'a::d']."""
    tree = re.sub(r"\s+", "", tree)
    brace = tree.find("{")
    if brace < 0:
        return [re.sub(r"\bas\b.*", "", tree)]
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rfind("}")]
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    return [p for part in parts if part for p in expand(prefix + part)]


def use_paths(code):
    for m in re.finditer(r"\buse\s+([^;]+);", code):
        for path in expand(m.group(1)):
            yield path.split("as")[0] if "::" in path else path
    for m in INLINE.finditer(re.sub(r"\buse\s+[^;]+;", "", code)):
        yield m.group(1) + m.group(2)


def absolute(module, path):
    segs = [s for s in path.split("::") if s]
    if not segs or segs[0] not in ("crate", "super", "self"):
        return None
    base = list(module)
    while segs and segs[0] in ("super", "self", "crate"):
        head = segs.pop(0)
        if head == "crate":
            base = []
        elif head == "super":
            base = base[:-1]
    return base + [s for s in segs if s not in ("*", "self")]


def reexports(mods, module):
    """Names a module file re-exports from its submodules: name -> submodule."""
    names = {}
    for path in use_paths(code_of(mods[module])):
        if path.startswith(("crate", "super")):
            continue
        segs = [s for s in path.removeprefix("self::").split("::") if s]
        if len(segs) >= 2 and tuple(list(module) + segs[:1]) in mods:
            names[segs[-1]] = tuple(list(module) + segs[:-1])
    return names


def resolve(mods, segs, seen=0):
    best = ()
    for i in range(len(segs) + 1):
        if tuple(segs[:i]) in mods:
            best = tuple(segs[:i])
    rest = segs[len(best) :]
    if rest and seen < 8:
        target = reexports(mods, best).get(rest[0])
        if target and target != best:
            return resolve(mods, list(target) + rest[1:], seen + 1)
    return best


def cycles(src):
    mods = modules(src)
    edges = {m: set() for m in mods}
    for module in mods:
        for path in use_paths(code_of(mods[module])):
            segs = absolute(module, path)
            if segs is None:
                continue
            target = resolve(mods, segs)
            related = module[: len(target)] == target or target[: len(module)] == module
            if not related:
                edges[module].add(target)
    return strongly_connected(edges), mods


def strongly_connected(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


failed = False
for src in crate_roots():
    found, mods = cycles(src)
    for group in found:
        failed = True
        names = ", ".join("/".join(m) or "lib" for m in group)
        print(f"{src.parent.relative_to(ROOT)}: modules import each other in a loop: {names}")
if failed:
    sys.exit(1)
print("no module of any workspace crate imports another that imports it back")
