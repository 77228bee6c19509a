"""The backward executor: iterative and dependency-counted, never recursive.

1. Walk the graph from the roots once and count, for every node, how many edges point at it.
2. Run nodes from a ready heap ordered like PyTorch's ready queue (most recently created
   first; AccumulateGrad as soon as it is ready).  A node runs when every gradient it will
   receive has arrived and been summed into its buffer.
3. Every gradient a node returns is checked against its input: broadcasting is undone by
   ``sum_to_shape`` (the only place that does it) and the dtype is cast back.

``grad()`` shares the loop but captures gradients instead of accumulating into leaves.
"""
import heapq

from . import observe as _observe
from .grad_mode import GradMode
from .graph import AccumulateGrad, FREED_MSG, grad_accumulator


def _root_edge(t):
    if t.grad_fn is not None:
        return t.grad_fn, t._output_nr
    if t.requires_grad:
        return grad_accumulator(t), 0
    return None, 0


def run_backward(tensors, grad_tensors, retain_graph, create_graph, inputs=None, allow_unused=False,
                 accumulate=True):
    """Backpropagate ``grad_tensors`` from ``tensors``.

    With ``accumulate`` the leaves' ``.grad`` fill up (``Tensor.backward``); without it the
    gradients reaching ``inputs`` are returned (``autograd.grad``).
    """
    from ..ops.reduce import sum_to_shape  # layer 4, imported late

    roots = []
    for t, g in zip(tensors, grad_tensors):
        node, nr = _root_edge(t)
        if node is None:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        roots.append((node, nr, g))

    # Targets of autograd.grad: (node id, output_nr) -> position.  Leaves are reached through
    # their AccumulateGrad node, non-leaves at their grad_fn's output buffer.
    captures = None
    if inputs is not None:
        captures = {}
        for i, t in enumerate(inputs):
            if not t.requires_grad:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            node, nr = _root_edge(t)
            captures.setdefault((id(node), nr), []).append(i)
        results = [None] * len(inputs)

    # 1. dependency count
    deps = {}
    nodes = {}
    stack = []
    for node, _, _ in roots:
        if id(node) not in nodes:
            nodes[id(node)] = node
            stack.append(node)
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
                nodes[k] = nxt
                stack.append(nxt)

    obs = _observe._active
    if obs is not None:
        obs.backward_begin(roots)

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
        for node, _, _ in roots:
            if deps.get(id(node), 0) == 0 and id(node) in buffers and not _queued(heap, node):
                heapq.heappush(heap, (-node._seq, id(node), node))

        step = 0
        while heap:
            _, key, node = heapq.heappop(heap)
            grads = buffers.pop(key, None)
            if grads is None:
                grads = [None] * node.n_outputs

            # tensor pre-hooks (register_hook on non-leaf outputs) and retain_grad
            if node._pre_hooks:
                for nr_hook, fn in list(node._pre_hooks):
                    if nr_hook is None:
                        res = fn(tuple(grads))
                        if res is not None:
                            grads = list(res)
                    elif grads[nr_hook] is not None:
                        res = fn(grads[nr_hook])
                        if res is not None:
                            grads[nr_hook] = res
            if node._retain:
                for nr_keep, ref in node._retain.items():
                    t = ref()
                    if t is not None and grads[nr_keep] is not None:
                        g = grads[nr_keep]
                        if t.grad is None:
                            t.grad = g if create_graph else g._detached_copy()
                        else:
                            t.grad = t.grad + g if create_graph else t.grad._plus_detached(g)

            if captures is not None:
                for nr in range(node.n_outputs):
                    pos = captures.get((key, nr))
                    if pos is not None and grads[nr] is not None:
                        for p in pos:
                            results[p] = grads[nr]

            if type(node) is AccumulateGrad:
                g = grads[0]
                if g is not None:
                    var = node.variable
                    hooks = var._hooks
                    if hooks:
                        for fn in list(hooks.values()):
                            res = fn(g)
                            if res is not None:
                                g = res
                    if accumulate:
                        if obs is not None:
                            obs.backward_step(step, node, (g,), (), accumulated=var)
                            step += 1
                        node.accumulate(g, create_graph)
                continue

            if all(g is None for g in grads):
                outs = (None,) * len(node.next_functions)
            else:
                if node._freed:
                    raise RuntimeError(FREED_MSG)
                outs = node.backward(*grads)
                if type(outs) is not tuple:
                    outs = (outs,)
                if len(outs) != len(node.next_functions):
                    raise RuntimeError(
                        f"function {node.name()} returned an incorrect number of gradients "
                        f"(expected {len(node.next_functions)}, got {len(outs)})"
                    )
                outs = _validate(node, outs, sum_to_shape)
                if node._hooks:
                    for fn in node._hooks:
                        res = fn(tuple(outs), tuple(grads))
                        if res is not None:
                            outs = tuple(res)
                if obs is not None:
                    obs.backward_step(step, node, grads, outs)
                    step += 1
            if not retain_graph:
                node.release()

            for (nxt, nr), g in zip(node.next_functions, outs):
                if nxt is None:
                    continue
                k = id(nxt)
                if g is not None:
                    buf = buffers.get(k)
                    if buf is None:
                        buf = buffers[k] = [None] * nxt.n_outputs
                    buf[nr] = g if buf[nr] is None else buf[nr] + g
                d = deps[k] - 1
                deps[k] = d
                if d == 0:
                    heapq.heappush(heap, (-nxt._seq, k, nxt))
    finally:
        GradMode.enabled = prev_mode
        if obs is not None:
            obs.backward_end()

    if captures is not None:
        if not allow_unused:
            for r in results:
                if r is None:
                    raise RuntimeError(
                        "One of the differentiated Tensors appears to not have been used in the graph. "
                        "Set allow_unused=True if this is the desired behavior."
                    )
        return tuple(results)
    return None


def _queued(heap, node):
    return any(entry[2] is node for entry in heap)


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
