"""The backward executor: iterative and dependency-counted, never recursive.

1. Walk the graph from the roots once and count, for every node, how many edges point at it.
2. Run nodes from a ready queue ordered like PyTorch's: a max-heap on the node's sequence
   number (most recently created first), AccumulateGrad (sequence number +inf) as soon as it
   is ready.  Ties between AccumulateGrad nodes are broken exactly as PyTorch's
   ``std::priority_queue`` breaks them (libstdc++'s push_heap/pop_heap), which is why the heap
   below is written out instead of using ``heapq``.  A node runs when every gradient it will
   receive has arrived and been summed into its buffer.
3. Per node, in PyTorch's order: tensor hooks (``register_hook`` on its outputs, or on the
   leaf for AccumulateGrad), ``retain_grad``, node pre-hooks, the backward formula, validation
   (broadcasting undone by ``sum_to_shape``, the only place that does it, and the input dtype
   restored), node post-hooks, release of saved tensors unless ``retain_graph``.

With ``inputs`` (``autograd.grad`` and ``backward(inputs=...)``) only the nodes on a path to
an input run, as with PyTorch's exec_info; ``grad()`` captures the gradients reaching its
inputs instead of accumulating them into ``.grad``.
"""
from . import observe as _observe
from .grad_mode import GradMode, _Anomaly
from .graph import AccumulateGrad, FREED_MSG, grad_accumulator

_INF = float("inf")


def _root_edge(t):
    if t.grad_fn is not None:
        return t.grad_fn, t._output_nr
    if t._rg:
        return grad_accumulator(t), 0
    return None, 0


# -- ready queue: libstdc++'s std::priority_queue on (sequence number), written out ---------
def _push(heap, key, node):
    heap.append(None)
    hole = len(heap) - 1
    while hole > 0:
        parent = (hole - 1) >> 1
        p = heap[parent]
        if not p[0] < key:
            break
        heap[hole] = p
        hole = parent
    heap[hole] = (key, node)


def _pop(heap):
    top = heap[0]
    last = heap.pop()
    n = len(heap)
    if n == 0:
        return top[1]
    hole = 0
    child = 0
    while child < (n - 1) // 2:
        child = 2 * (child + 1)
        if heap[child][0] < heap[child - 1][0]:
            child -= 1
        heap[hole] = heap[child]
        hole = child
    if (n & 1) == 0 and child == (n - 2) // 2:
        child = 2 * (child + 1)
        heap[hole] = heap[child - 1]
        hole = child - 1
    key = last[0]
    while hole > 0:
        parent = (hole - 1) >> 1
        p = heap[parent]
        if not p[0] < key:
            break
        heap[hole] = p
        hole = parent
    heap[hole] = last
    return top[1]


def _count_deps(root_nodes):
    """Number of graph edges pointing at each reachable node (roots' own edges excluded)."""
    deps = {}
    stack = list(root_nodes)
    seen = {id(n) for n in stack}
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            k = id(nxt)
            if k in deps:
                deps[k] += 1
            else:
                deps[k] = 1
                if k not in seen:
                    seen.add(k)
                    stack.append(nxt)
    return deps


def _should_execute(root_nodes, deps, needed_targets, captured):
    """PyTorch's exec_info: the ids of nodes that must run (a descendant is a target), and the
    ids of nodes that only have gradients captured.  Computed children-first over a
    topological order, without recursion."""
    indeg = dict(deps)
    order = []
    stack = [n for n in root_nodes if indeg.get(id(n), 0) == 0]
    while stack:
        node = stack.pop()
        order.append(node)
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            k = id(nxt)
            d = indeg[k] - 1
            indeg[k] = d
            if d == 0:
                stack.append(nxt)
    needed = set()
    for node in reversed(order):
        k = id(node)
        if k in needed_targets:
            needed.add(k)
            continue
        for nxt, _ in node.next_functions:
            if nxt is not None and (id(nxt) in needed or id(nxt) in captured):
                needed.add(k)
                break
    return needed


def run_backward(tensors, grad_tensors, retain_graph, create_graph, inputs=None, allow_unused=False,
                 accumulate=True):
    """Backpropagate ``grad_tensors`` from ``tensors``.

    With ``accumulate`` the leaves' ``.grad`` fill up (``Tensor.backward``; with ``inputs``
    only those of ``inputs``); without it the gradients reaching ``inputs`` are returned
    (``autograd.grad``).
    """
    from ..ops.reduce import sum_to_shape  # layer 4, imported late

    roots = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        node, nr = _root_edge(t)
        if node is None:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        roots.append((node, nr, g))
    root_nodes = []
    root_ids = set()
    for node, _, _ in roots:
        if id(node) not in root_ids:
            root_ids.add(id(node))
            root_nodes.append(node)

    deps = _count_deps(root_nodes)

    # Targets.  Leaves are reached through their AccumulateGrad node, non-leaves at their
    # grad_fn's input buffer.
    captures = None
    should = None  # None: every node runs
    if inputs is not None:
        targets = []
        for t in inputs:
            if not t._rg:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets.append(_root_edge(t))
        if accumulate:
            needed_targets = {id(n) for n, _ in targets}
            captured = ()
        else:
            needed_targets = ()
            captures = {}
            for i, (n, nr) in enumerate(targets):
                captures.setdefault((id(n), nr), []).append(i)
            captured = {k for k, _ in captures}
        needed_set = _should_execute(root_nodes, deps, needed_targets, captured)
        should = needed_set | captured if captures else needed_set
        results = [None] * len(inputs)

    obs = _observe._active
    if obs is not None:
        obs.backward_begin(roots)
    anomaly = _Anomaly.enabled and _Anomaly.check_nan

    prev_mode = GradMode.enabled
    GradMode.enabled = bool(create_graph)
    try:
        buffers = {}
        heap = []
        for node, nr, g in roots:
            buf = buffers.get(id(node))
            if buf is None:
                buf = buffers[id(node)] = [None] * node.n_outputs
            buf[nr] = g if buf[nr] is None else buf[nr] + g
        for node in root_nodes:
            if deps.get(id(node), 0) == 0 and (should is None or id(node) in should):
                _push(heap, node._seq, node)

        step = 0
        while heap:
            node = heap.pop()[1] if len(heap) == 1 else _pop(heap)
            key = id(node)
            grads = buffers.pop(key, None)
            if grads is None:
                grads = [None] * node.n_outputs
            is_acc = type(node) is AccumulateGrad
            run = should is None or key in needed_set
            if captures is not None and run and key in captured:
                _capture(captures, key, node, grads, results)  # before hooks, as PyTorch does

            # tensor hooks (register_hook on the node's outputs; on the leaf for AccumulateGrad)
            if is_acc:
                hooks = node.variable._hooks
                if hooks and grads[0] is not None:
                    g = grads[0]
                    for fn in list(hooks.values()):
                        res = fn(g)
                        if res is not None:
                            g = res
                    grads[0] = g
            else:
                pre = node._pre_hooks
                if pre:
                    for nr_hook, fn in list(pre):
                        if nr_hook is not None and grads[nr_hook] is not None:
                            res = fn(grads[nr_hook])
                            if res is not None:
                                grads[nr_hook] = res
                if node._retain:
                    _retain(node, grads, create_graph)

            if not run:
                _capture(captures, key, node, grads, results)
                continue

            # node pre-hooks (Node.register_prehook)
            pre = node._pre_hooks
            if pre:
                for nr_hook, fn in list(pre):
                    if nr_hook is None:
                        res = fn(tuple(grads))
                        if res is not None:
                            grads = list(res)

            if is_acc:
                g = grads[0]
                if g is not None:
                    var = node.variable
                    if obs is not None:
                        obs.backward_step(step, node, (g,), (), accumulated=var)
                        step += 1
                    node.accumulate(g, create_graph)
                    if node._hooks:
                        for fn in list(node._hooks):
                            fn((), (g,))
                continue

            if node._freed:
                raise RuntimeError(FREED_MSG)
            if grads[0] is not None or node._custom or any(g is not None for g in grads):
                outs = node.backward(*grads)
                if type(outs) is not tuple:
                    outs = tuple(outs) if isinstance(outs, list) else (outs,)
                if len(outs) != len(node.next_functions):
                    raise RuntimeError(
                        f"function {node.name()} returned an incorrect number of gradients "
                        f"(expected {len(node.next_functions)}, got {len(outs)})"
                    )
                outs = _validate(node, outs, sum_to_shape)
                if anomaly:
                    _check_nan(node, outs)
                if node._hooks:
                    for fn in list(node._hooks):
                        res = fn(tuple(outs), tuple(grads))
                        if res is not None:
                            outs = list(res)
            else:
                outs = (None,) * len(node.next_functions)
            if obs is not None:
                obs.backward_step(step, node, grads, outs)
                step += 1
            if not retain_graph:
                node.release()

            for (nxt, nr), g in zip(node.next_functions, outs):
                if nxt is None:
                    continue
                k = id(nxt)
                if should is not None and k not in should:
                    continue
                if g is not None:
                    buf = buffers.get(k)
                    if buf is None:
                        buf = buffers[k] = [None] * nxt.n_outputs
                    old = buf[nr]
                    buf[nr] = g if old is None else old + g
                d = deps[k] - 1
                deps[k] = d
                if d == 0:
                    if heap:
                        _push(heap, nxt._seq, nxt)
                    else:
                        heap.append((nxt._seq, nxt))
    finally:
        GradMode.enabled = prev_mode
        if obs is not None:
            obs.backward_end()

    if captures is not None:
        if not allow_unused:
            for i, r in enumerate(results):
                if r is None:
                    raise RuntimeError(
                        f"The differentiated Tensor at index {i} appears to not have been used in the graph. "
                        "Set allow_unused=True if this is the desired behavior."
                    )
        return tuple(results)
    return None


def _capture(captures, key, node, grads, results):
    for nr in range(node.n_outputs):
        pos = captures.get((key, nr))
        if pos is not None and grads[nr] is not None:
            for p in pos:
                results[p] = grads[nr]


def _retain(node, grads, create_graph):
    """``retain_grad()`` on a non-leaf: keep (a copy of) the gradient of that output."""
    for nr_keep, ref in node._retain.items():
        t = ref()
        g = grads[nr_keep]
        if t is None or g is None:
            continue
        if t.grad is None:
            t.grad = g.clone() if create_graph else g._detached_copy()
        else:
            t.grad = t.grad + g if create_graph else t.grad._plus_detached(g)


def _check_nan(node, outs):
    for i, g in enumerate(outs):
        if g is not None and g.is_floating_point() and bool((g._data != g._data).any()):
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


def _validate(node, outs, sum_to_shape):
    """PyTorch's validate_outputs: reduce broadcast gradients and restore input dtypes."""
    meta = node._meta
    res = list(outs)
    for i, g in enumerate(res):
        if g is None:
            continue
        m = meta[i]
        if m is None:
            res[i] = None
            continue
        shape, dtype = m
        if g.shape != shape:
            g = sum_to_shape(g, shape, node.name(), i)
        if g.dtype is not dtype:
            g = g.to(dtype)
        res[i] = g
    return res
