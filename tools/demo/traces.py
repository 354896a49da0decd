"""A trace as a tree in the terminal."""

from __future__ import annotations

from rich.tree import Tree

from tools.trace_receiver import ReceivedSpan, SpanNode


def trace_tree(title: str, roots: list[SpanNode]) -> Tree:
    tree = Tree(title)

    def add(branch: Tree, node: SpanNode) -> None:
        s = node.span
        service = s.service.removeprefix("licentia-")
        label = f"[cyan]{service}[/]  {_name(s)}  [dim]{s.milliseconds:.1f} ms[/]"
        child = branch.add(label)
        for grandchild in node.children:
            add(child, grandchild)

    for root in roots:
        add(tree, root)
    return tree


def _name(span: ReceivedSpan) -> str:
    """RPCs by method; database statements by verb and store, not by file path."""
    if "db.system" in span.attributes:
        return f"{span.name.split()[0]} ({span.attributes['db.system']})"
    return span.name.rsplit("/", 1)[-1] if span.name.startswith("/") else span.name
