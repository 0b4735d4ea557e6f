"""Five seconds of cyclic garbage, a few full collections and some
uncollectable objects: something for mmtrace's table to show."""
import gc
import time


class Node:
    def __init__(self, parent=None):
        self.parent, self.children = parent, []
        if parent is not None:
            parent.children.append(self)


def tree(depth):
    root = Node()
    level = [root]
    for _ in range(depth):
        level = [Node(p) for p in level for _ in range(2)]
    return root


end = time.monotonic() + 5
i = 0
while time.monotonic() < end:
    tree(8)
    i += 1
    if i % 200 == 0:
        gc.collect()
    time.sleep(0.001)
