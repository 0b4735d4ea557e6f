build-dev/present_stacks.o: user/present_stacks.c user/json.h \
 user/present.h user/collect_exact.h bpf/alloc.h bpf/gc.h bpf/gc.h \
 user/present_heap.h user/heap.h user/procmem.h user/resolve.h \
 user/stacks.h user/symbolize.h user/stack_layout.h user/proctable.h \
 user/plan.h
user/json.h:
user/present.h:
user/collect_exact.h:
bpf/alloc.h:
bpf/gc.h:
bpf/gc.h:
user/present_heap.h:
user/heap.h:
user/procmem.h:
user/resolve.h:
user/stacks.h:
user/symbolize.h:
user/stack_layout.h:
user/proctable.h:
user/plan.h:
