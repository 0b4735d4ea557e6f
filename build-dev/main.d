build-dev/main.o: user/main.c user/attach.h bpf/gc.h user/plan.h \
 user/resolve.h user/collect.h user/collect_exact.h bpf/alloc.h bpf/gc.h \
 user/discover.h user/discover_host.h user/registry.h user/exitcodes.h \
 user/export.h user/present.h user/present_heap.h user/heap.h \
 user/procmem.h user/stacks.h user/symbolize.h user/stack_layout.h \
 user/proctable.h user/heap_run.h user/options.h user/host.h user/parse.h
user/attach.h:
bpf/gc.h:
user/plan.h:
user/resolve.h:
user/collect.h:
user/collect_exact.h:
bpf/alloc.h:
bpf/gc.h:
user/discover.h:
user/discover_host.h:
user/registry.h:
user/exitcodes.h:
user/export.h:
user/present.h:
user/present_heap.h:
user/heap.h:
user/procmem.h:
user/stacks.h:
user/symbolize.h:
user/stack_layout.h:
user/proctable.h:
user/heap_run.h:
user/options.h:
user/host.h:
user/parse.h:
