build-dev/heap_run.o: user/heap_run.c user/discover.h user/plan.h \
 bpf/gc.h user/resolve.h user/exitcodes.h user/heap_layout.h user/heap.h \
 user/procmem.h user/heap_run.h user/present_heap.h user/options.h \
 user/present.h user/collect_exact.h bpf/alloc.h bpf/gc.h user/stacks.h \
 user/symbolize.h user/stack_layout.h user/proctable.h user/parse.h
user/discover.h:
user/plan.h:
bpf/gc.h:
user/resolve.h:
user/exitcodes.h:
user/heap_layout.h:
user/heap.h:
user/procmem.h:
user/heap_run.h:
user/present_heap.h:
user/options.h:
user/present.h:
user/collect_exact.h:
bpf/alloc.h:
bpf/gc.h:
user/stacks.h:
user/symbolize.h:
user/stack_layout.h:
user/proctable.h:
user/parse.h:
