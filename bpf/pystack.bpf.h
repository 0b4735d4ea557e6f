/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Walks the Python stack of the current thread with bounded reads: the
 * thread state that holds the GIL (the thread that allocates or collects
 * holds it), then its frames, innermost first. Each frame gives its code
 * object and instruction offset; user space turns them into names and lines.
 * Frames that run no Python code are skipped: owner 3 is the C-stack shim
 * of 3.12-3.13 and the interpreter's entry frame of 3.14+, owner 4 the
 * (unused) C-stack owner of 3.14 and the thread state's base frame of 3.15.
 */
#ifndef MMTRACE_PYSTACK_BPF_H
#define MMTRACE_PYSTACK_BPF_H

#define FRAME_OWNER_NOT_CODE 3	/* this owner and above hold no code object */
/* _PyStackRef (3.14+, GIL build): {.bits = 1} is NULL; tag 3 is a tagged int */
#define STACKREF_NULL 1
#define STACKREF_INT_TAG 3

static __always_inline int read_ptr(__u64 addr, __u64 *out)
{
	*out = 0;
	return bpf_probe_read_user(out, sizeof(*out), (void *)addr) || !*out ? -1 : 0;
}

static __always_inline int current_tstate(__u64 runtime, const struct py_stack_layout *l, __u64 *tstate)
{
	__u64 interp, gil;

	if (!l->tstate_via_gil)
		return read_ptr(runtime + l->tstate_current, tstate);
	if (read_ptr(runtime + l->interp_main, &interp) || read_ptr(interp + l->interp_gil, &gil))
		return -1;
	return read_ptr(gil + l->gil_last_holder, tstate);
}

static __always_inline int top_frame(__u64 tstate, const struct py_stack_layout *l, __u64 *frame)
{
	if (read_ptr(tstate + l->tstate_frame, frame))
		return -1;
	if (l->kind == STACK_CFRAME)
		return read_ptr(*frame + l->cframe_current, frame);
	return 0;
}

/* One frame: 0 recorded, 1 skipped (a shim), -1 unreadable. */
static __always_inline int read_frame(__u64 frame, const struct py_stack_layout *l, struct py_frame *out)
{
	__u64 instr = 0;
	__s32 lasti = 0;
	__u8 owner = 0;

	if (l->frame_owner && !bpf_probe_read_user(&owner, 1, (void *)(frame + l->frame_owner)) &&
	    owner >= FRAME_OWNER_NOT_CODE)
		return 1;
	if (read_ptr(frame + l->frame_code, &out->code))
		return -1;
	if (l->code_tag_bits) {
		/* a NULL or an int where the executable should be: no code to
		 * name, but the chain goes on through previous */
		if (out->code == STACKREF_NULL || (out->code & STACKREF_INT_TAG) == STACKREF_INT_TAG)
			return 1;
		out->code &= ~l->code_tag_bits;
	}
	if (l->kind == STACK_FRAME_OBJECTS) {
		if (bpf_probe_read_user(&lasti, sizeof(lasti), (void *)(frame + l->frame_instr)))
			return -1;
		out->lasti = lasti < 0 ? 0 : (__u64)lasti;
		return 0;
	}
	if (read_ptr(frame + l->frame_instr, &instr))
		return -1;
	out->lasti = instr - out->code - l->code_adaptive;
	return 0;
}

struct walk_ctx {
	__u64 frame;
	const struct py_stack_layout *l;
	struct mm_stack_event *e;
	__u32 max_depth;
	__u32 done;		/* the walk ended on its own, not by the loop's budget */
};

/* One step of bpf_loop: the verifier checks it once, not once per frame.
 * The count of frames lives in the event (map memory, whose contents the
 * verifier does not track), not in walk_ctx on the stack: a counter there
 * used as an index is tracked precisely, so each step's state differs from
 * the last and the callback was explored ~560,000 instructions deep per
 * program (1.5 s of load time each, half the verifier's limit). */
static long walk_one(__u32 index, void *arg)
{
	struct walk_ctx *w = arg;
	__u64 next = 0;
	__u32 n = w->e->depth;
	int r;

	w->done = 1;	/* every return below ends the walk, but the last one */
	if (n >= w->max_depth) {
		w->e->flags |= STACK_TRUNCATED;
		return 1;
	}
	r = read_frame(w->frame, w->l, &w->e->frames[n & (MMTRACE_STACK_MAX - 1)]);
	if (r < 0) {
		w->e->flags |= STACK_BROKEN;
		return 1;
	}
	if (r == 0)
		w->e->depth = n + 1;
	if (bpf_probe_read_user(&next, sizeof(next), (void *)(w->frame + w->l->frame_back))) {
		w->e->flags |= STACK_BROKEN;
		return 1;
	}
	if (!next)
		return 1;	/* the outermost frame */
	w->frame = next;
	w->done = 0;
	return 0;
}

/* Fills e->frames, depth and flags; returns the depth. */
static __always_inline __u32 walk_python_stack(__u64 runtime, const struct py_stack_layout *l, __u32 max_depth,
					       struct mm_stack_event *e)
{
	struct walk_ctx w = { .l = l, .e = e, .max_depth = max_depth };
	__u64 tstate;

	e->depth = 0;
	e->flags = 0;
	if (current_tstate(runtime, l, &tstate) || top_frame(tstate, l, &w.frame)) {
		e->flags = STACK_NO_THREAD;
		return 0;
	}
	/* shims are skipped without counting: room for one per frame */
	bpf_loop(2 * MMTRACE_STACK_MAX, walk_one, &w, 0);
	if (!w.done)
		e->flags |= STACK_TRUNCATED;	/* the budget ran out (a chain of shims) */
	if (e->depth > MMTRACE_STACK_MAX)
		e->depth = MMTRACE_STACK_MAX;
	return e->depth;
}

#endif /* MMTRACE_PYSTACK_BPF_H */
